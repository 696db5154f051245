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
DevicePolicy=closed
DeviceAllow=/dev/net/tun rwm
DeviceAllow=char-pts rw

[Install]
WantedBy=machines.target
`

// Section is one [Name] section of a unit file, its settings in order.
type Section struct {
	Name     string
	Settings []Setting
}

// Setting is one line of a section. An Exec setting (made with Exec)
// carries its command line as an argv, quoted when rendered; one made with
// Set a plain value, in which specifiers are escaped; one made with Raw a
// value written as it is.
type Setting struct {
	Key   string
	Value string
	// exec marks an Exec*= setting: Value is then its prefix ("-" to
	// ignore failure) and argv the command.
	exec bool
	argv []string
	raw  bool
}

// Set is a plain setting, Key=Value, whose value systemd reads with
// specifiers expanded (Description=, paths): '%' is escaped.
func Set(key, value string) Setting { return Setting{Key: key, Value: value} }

// Raw is a setting whose parser expands no specifiers (sizes, numbers,
// percentages such as CPUQuota=50%): its value is written as it is.
func Raw(key, value string) Setting { return Setting{Key: key, Value: value, raw: true} }

// Exec is an Exec*= setting running argv; prefix "-" ignores its failure.
func Exec(key, prefix string, argv []string) Setting {
	return Setting{Key: key, Value: prefix, exec: true, argv: argv}
}

// RenderDropin returns the text of a drop-in file holding sections. It
// refuses values the file could not carry as they are.
func RenderDropin(sections []Section) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by sdme; changes are overwritten.\n")
	for i, sec := range sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", sec.Name)
		for _, s := range sec.Settings {
			v, err := s.render()
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "%s=%s\n", s.Key, v)
		}
	}
	return b.String(), nil
}

func (s Setting) render() (string, error) {
	if s.exec {
		if err := checkExec(s.argv); err != nil {
			return "", err
		}
		return ExecLine(s.Value, s.argv), nil
	}
	if err := checkValue(s.Key, s.Value); err != nil {
		return "", err
	}
	if s.raw {
		return s.Value, nil
	}
	return EscapeValue(s.Value), nil
}
