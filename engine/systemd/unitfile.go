package systemd

import (
	"fmt"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
)

// Quote renders one argument of an Exec*= line so that systemd hands it to
// the program exactly as given: '%' would start a specifier and '$' an
// environment variable, whitespace, quotes and backslashes would split or
// alter the word, and a newline would end the setting and start another.
// Control characters become C escapes (\x0a), which systemd decodes in
// Exec lines; NUL has none, and CheckExec refuses it.
func Quote(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	arg = strings.ReplaceAll(arg, "$", "$$")
	if arg != "" && arg != ";" && !strings.ContainsAny(arg, " \"'\\") && !hasControl(arg) {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(arg); i++ {
		switch c := arg[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// checkValue refuses a plain setting value that a unit file cannot hold:
// it has no escapes, so a newline would end the setting and start another.
func checkValue(setting, v string) error {
	if hasControl(v) {
		return fmt.Errorf("unit setting %s: %q has a control character: %w", setting, v, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkExec refuses an Exec argument with a NUL, which no escape carries.
func checkExec(argv []string) error {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("command argument %q has a NUL byte: %w", a, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ExecLine renders argv as the value of an Exec*= setting. A prefix such as
// "-" (ignore failure) goes before the program path.
func ExecLine(prefix string, argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return prefix + strings.Join(q, " ")
}

// EscapeValue makes s safe as a plain (non-Exec) unit setting value, where
// only specifiers are expanded.
func EscapeValue(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// Template is the template unit every container is an instance of. It holds
// what all containers share; the per-container drop-in adds the mounts and
// the nspawn command line. ExecStart stays /bin/false here so that an
// instance without its drop-in fails instead of booting something else.
const Template = `# Written by sdme; changes are overwritten.
[Unit]
Description=sdme container %i
Documentation=https://github.com/sdme/sdme
PartOf=machines.target
Before=machines.target
After=network.target systemd-resolved.service systemd-machined.service local-fs.target
Wants=systemd-machined.service

[Service]
# nspawn --notify-ready=yes forwards the guest's READY=1, so the start job
# completes exactly when the container has booted.
Type=notify
ExecStart=/bin/false
KillMode=mixed
Delegate=yes
Slice=machine.slice
# 133 is nspawn's exit status when the guest reboots.
RestartForceExitStatus=133
SuccessExitStatus=133
TasksMax=16384
DevicePolicy=closed
DeviceAllow=/dev/net/tun rwm
DeviceAllow=char-pts rw

[Install]
WantedBy=machines.target
`

// Dropin describes the per-container part of a container's unit.
type Dropin struct {
	Name string
	// Datadir must be mounted before the container starts.
	Datadir string
	// Timeout bounds ExecStartPre plus the boot, in seconds; systemd fails
	// the start job and stops the unit when it passes.
	TimeoutSec int
	// Mounts run before nspawn, in order; a Mount with Optional set may
	// fail without failing the start.
	Mounts []Mount
	// Nspawn is the full systemd-nspawn command line.
	Nspawn []string
	// Umount is the umount program used after the container exits.
	Umount string
	// Cleanup commands run after the unmounts; their failures are ignored.
	Cleanup [][]string
}

// Mount is one mount command run in ExecStartPre.
type Mount struct {
	Argv     []string
	Target   string
	Optional bool
}

// Render returns the text of the drop-in file. It refuses values that
// the file could not carry as they are.
func (d Dropin) Render() (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Written by sdme; changes are overwritten.\n")
	fmt.Fprintf(&b, "[Unit]\nDescription=sdme container %s\nRequiresMountsFor=%s\n\n", EscapeValue(d.Name), EscapeValue(d.Datadir))
	b.WriteString("[Service]\n")
	fmt.Fprintf(&b, "TimeoutStartSec=%ds\n", d.TimeoutSec)
	for _, m := range d.Mounts {
		p := ""
		if m.Optional {
			p = "-"
		}
		fmt.Fprintf(&b, "ExecStartPre=%s\n", ExecLine(p, m.Argv))
	}
	b.WriteString("ExecStart=\n")
	fmt.Fprintf(&b, "ExecStart=%s\n", ExecLine("", d.Nspawn))
	// Unmount in reverse order, deepest first. Failures are ignored: the
	// mount may never have been made.
	for i := len(d.Mounts) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "ExecStopPost=%s\n", ExecLine("-", []string{d.Umount, d.Mounts[i].Target}))
	}
	for _, argv := range d.Cleanup {
		fmt.Fprintf(&b, "ExecStopPost=%s\n", ExecLine("-", argv))
	}
	return b.String(), nil
}

func (d Dropin) check() error {
	if err := checkValue("Description", d.Name); err != nil {
		return err
	}
	if err := checkValue("RequiresMountsFor", d.Datadir); err != nil {
		return err
	}
	argvs := append([][]string{d.Nspawn, {d.Umount}}, d.Cleanup...)
	for _, m := range d.Mounts {
		argvs = append(argvs, m.Argv, []string{m.Target})
	}
	for _, argv := range argvs {
		if err := checkExec(argv); err != nil {
			return err
		}
	}
	return nil
}
