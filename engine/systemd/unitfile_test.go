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

func TestDropinRender(t *testing.T) {
	d := Dropin{
		Name:       "web",
		Datadir:    "/var/lib/sdme",
		TimeoutSec: 60,
		Mounts: []Mount{
			{Argv: []string{"/usr/bin/mount", "-t", "overlay", "overlay", "-o", "lowerdir=/,upperdir=/d/u,workdir=/d/w", "/d/m"}, Target: "/d/m"},
			{Argv: []string{"/usr/bin/mount", "-t", "overlay", "overlay", "-o", "lowerdir=/home,upperdir=/d/s/u,workdir=/d/s/w", "/d/m/home"}, Target: "/d/m/home", Optional: true},
		},
		Nspawn:  []string{"/usr/bin/systemd-nspawn", "--boot", "--setenv=A=50% $B"},
		Umount:  "/usr/bin/umount",
		Cleanup: [][]string{{"/usr/bin/rmdir", "/run/x"}},
	}
	got, err := d.Render()
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by sdme; changes are overwritten.
[Unit]
Description=sdme container web
RequiresMountsFor=/var/lib/sdme

[Service]
TimeoutStartSec=60s
ExecStartPre=/usr/bin/mount -t overlay overlay -o lowerdir=/,upperdir=/d/u,workdir=/d/w /d/m
ExecStartPre=-/usr/bin/mount -t overlay overlay -o lowerdir=/home,upperdir=/d/s/u,workdir=/d/s/w /d/m/home
ExecStart=
ExecStart=/usr/bin/systemd-nspawn --boot "--setenv=A=50%% $$B"
ExecStopPost=-/usr/bin/umount /d/m/home
ExecStopPost=-/usr/bin/umount /d/m
ExecStopPost=-/usr/bin/rmdir /run/x
`
	if got != want {
		t.Errorf("Render() =\n%s\nwant\n%s", got, want)
	}
}

func TestTemplateFailsWithoutDropin(t *testing.T) {
	if !strings.Contains(Template, "ExecStart=/bin/false") {
		t.Error("the template must not boot anything without its drop-in")
	}
}

func TestDropinRefusesWhatItCannotCarry(t *testing.T) {
	base := Dropin{Name: "web", Datadir: "/var/lib/sdme", Nspawn: []string{"/usr/bin/systemd-nspawn"}, Umount: "/usr/bin/umount"}
	for _, d := range []Dropin{
		{Name: "web", Datadir: "/var/lib/sdme\nExecStartPre=/bin/evil", Nspawn: base.Nspawn, Umount: base.Umount},
		{Name: "web\r", Datadir: base.Datadir, Nspawn: base.Nspawn, Umount: base.Umount},
		{Name: "web", Datadir: base.Datadir, Nspawn: []string{"/usr/bin/systemd-nspawn", "a\x00b"}, Umount: base.Umount},
	} {
		if text, err := d.Render(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Render(%+v) = %q, %v; want ErrInvalidArgument", d, text, err)
		}
	}
	// An Exec argument with a newline stays one argument on one line.
	d := base
	d.Nspawn = append(d.Nspawn, "--setenv=A=1\nExecStartPre=/bin/evil")
	text, err := d.Render()
	if err != nil || strings.Contains(text, "\nExecStartPre=/bin/evil") {
		t.Errorf("an Exec argument with a newline: %q, %v", text, err)
	}
}
