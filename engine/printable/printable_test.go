package printable

import "testing"

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"Debian GNU/Linux 13 (trixie)":           "Debian GNU/Linux 13 (trixie)",
		"Evil\x1b]0;owned\x07 \x1b[2J\x1b[31mOS": "Evil]0;owned [2J[31mOS",
		"a\nb\tc\rd\x00e\x7f":                    "a b c de",
		"csi\u009b2J":                            "csi2J",
		"bad\xffutf8":                            "bad\uFFFDutf8",
		"Ünïcödé ✓":                              "Ünïcödé ✓",
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Text("one\n\ttwo\x1b[2J\n"); got != "one\n\ttwo[2J\n" {
		t.Errorf("Text kept %q", got)
	}
}
