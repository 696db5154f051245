package systemd

import (
	"errors"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"plain":         "plain",
		"--machine=a-1": "--machine=a-1",
		"":              `""`,
		";":             `";"`,
		"100%":          "100%%",
		"$HOME":         "$$HOME",
		"${HOME}":       "$${HOME}",
		"two words":     `"two words"`,
		`say "hi"`:      `"say \"hi\""`,
		`back\slash`:    `"back\\slash"`,
		"it's":          `"it's"`,
		"tab\there":     `"tab\x09here"`,
		"line\nbreak":   `"line\x0abreak"`,
		"esc\x1b[2J":    `"esc\x1b[2J"`,
		"50% of $x y":   `"50%% of $$x y"`,
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestRenderDropin(t *testing.T) {
	got, err := RenderDropin([]Section{
		{Name: "Unit", Settings: []Setting{Set("Description", "sdme container web"), Set("RequiresMountsFor", "/var/lib/50%")}},
		{Name: "Service", Settings: []Setting{
			Exec("ExecStartPre", "-", []string{"/usr/bin/mount", "/d/m"}),
			Set("ExecStart", ""),
			Exec("ExecStart", "", []string{"/usr/bin/systemd-nspawn", "--boot", "--setenv=A=50% $B"}),
			Raw("CPUQuota", "50%"),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by sdme; changes are overwritten.
[Unit]
Description=sdme container web
RequiresMountsFor=/var/lib/50%%

[Service]
ExecStartPre=-/usr/bin/mount /d/m
ExecStart=
ExecStart=/usr/bin/systemd-nspawn --boot "--setenv=A=50%% $$B"
CPUQuota=50%
`
	if got != want {
		t.Errorf("RenderDropin() =\n%s\nwant\n%s", got, want)
	}
}

func TestTemplateFailsWithoutDropin(t *testing.T) {
	if !strings.Contains(Template, "ExecStart=/bin/false") {
		t.Error("the template must not boot anything without its drop-in")
	}
}

func TestRenderDropinRefusesWhatItCannotCarry(t *testing.T) {
	for _, s := range []Setting{
		Set("RequiresMountsFor", "/var/lib/sdme\nExecStartPre=/bin/evil"),
		Set("Description", "web\r"),
		Exec("ExecStart", "", []string{"/usr/bin/systemd-nspawn", "a\x00b"}),
	} {
		text, err := RenderDropin([]Section{{Name: "Service", Settings: []Setting{s}}})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("RenderDropin(%+v) = %q, %v; want ErrInvalidArgument", s, text, err)
		}
	}
	// An Exec argument with a newline stays one argument on one line.
	text, err := RenderDropin([]Section{{Name: "Service", Settings: []Setting{
		Exec("ExecStart", "", []string{"/usr/bin/systemd-nspawn", "--setenv=A=1\nExecStartPre=/bin/evil"}),
	}}})
	if err != nil || strings.Contains(text, "\nExecStartPre=/bin/evil") {
		t.Errorf("an Exec argument with a newline: %q, %v", text, err)
	}
}
