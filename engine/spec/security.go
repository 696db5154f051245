package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/sdme/sdme/engine/systemd"
)

// Security narrows what the container's root may do, with nspawn's
// options of the same names: capabilities dropped from (or added to)
// nspawn's bounding set, no new privileges for any process, a read-only
// root, and a system call filter in systemd's syntax.
type Security struct {
	DropCapabilities []string `json:"dropCapabilities,omitempty"`
	Capabilities     []string `json:"capabilities,omitempty"`
	NoNewPrivileges  bool     `json:"noNewPrivileges,omitempty"`
	ReadOnly         bool     `json:"readOnly,omitempty"`
	// SystemCallFilter entries are @group, name, or either after ~ (a
	// deny list), as systemd's SystemCallFilter= takes them.
	SystemCallFilter []string `json:"systemCallFilter,omitempty"`
	// AppArmorProfile confines the container (the unit's
	// AppArmorProfile=); the kernel must have it loaded.
	AppArmorProfile string `json:"appArmorProfile,omitempty"`

	// Hardened and Strict are profiles: Spec.Check expands them into the
	// settings above and a user namespace and private network, and they
	// stay on record.
	Hardened bool `json:"hardened,omitempty"`
	Strict   bool `json:"strict,omitempty"`

	// dhcp says the container has a link to configure with DHCP, whose
	// client needs CAP_NET_RAW (a packet socket): the profiles keep it.
	dhcp bool
}

// hardenedDrops are the capabilities --hardened drops from nspawn's set:
// tracing other processes, raw sockets and I/O ports, and reboot().
var hardenedDrops = []string{"CAP_SYS_PTRACE", "CAP_NET_RAW", "CAP_SYS_RAWIO", "CAP_SYS_BOOT"}

// strictKeeps are the only capabilities --strict leaves: Docker's default
// set, without CAP_NET_RAW (dropped by --hardened), with what a booting
// systemd cannot do without, both confined by the user namespace:
// CAP_SYS_ADMIN (it mounts /run, /tmp, its units' sandboxes) and
// CAP_NET_ADMIN (networkd configures the container's own interfaces).
var strictKeeps = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
	"CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
	"CAP_SYS_ADMIN", "CAP_NET_ADMIN",
}

// strictFilter is --strict's system call filter unless the caller gives
// one: what Docker's default seccomp profile denies, in systemd's groups,
// less what Docker allows a container with CAP_SYS_ADMIN and a booting
// systemd needs (mount, unshare, setns, pivot_root, name_to_handle_at).
var strictFilter = []string{
	"~@clock", "~@cpu-emulation", "~@debug", "~@module", "~@obsolete", "~@raw-io", "~@reboot", "~@swap",
	"~acct", "~add_key", "~bpf", "~keyctl", "~open_by_handle_at", "~quotactl", "~request_key", "~userfaultfd",
}

// strictAppArmorProfile is the profile --strict confines a container with
// where the kernel has AppArmor (units/apparmor/sdme-default, which make
// install puts in /etc/apparmor.d).
const strictAppArmorProfile = "sdme-default"

// hasAppArmor reports whether the kernel has AppArmor.
func hasAppArmor() bool {
	_, err := os.Stat(appArmorProfiles)
	return err == nil
}

// Notes say what a profile leaves out on this host. Create says them
// once; the rest of the profile applies.
func (s *Security) Notes() []string {
	if s.Strict && s.AppArmorProfile == "" && !hasAppArmor() {
		return []string{"this kernel has no AppArmor: the strict profile goes on without an AppArmor profile"}
	}
	return nil
}

// expand turns the profiles into the settings they stand for; what the
// caller gave explicitly wins (a --capability stays, a filter replaces
// the strict one). It is idempotent: a spec read back expands the same.
// Spec.Check expands first, for what other features take from it; check
// adds the capabilities once it has normalized the caller's.
func (s *Security) expand() {
	if s.Strict {
		s.Hardened = true
	}
	if s.Hardened {
		s.NoNewPrivileges = true
	}
}

// expandCapabilities drops what the profile drops, except what the
// caller adds back; it also fills in the strict filter and profile.
func (s *Security) expandCapabilities() {
	if !s.Hardened {
		return
	}
	drops := hardenedDrops
	if s.Strict {
		drops = nil
		for _, c := range capabilities {
			if !slices.Contains(strictKeeps, c) {
				drops = append(drops, c)
			}
		}
		if len(s.SystemCallFilter) == 0 {
			s.SystemCallFilter = strictFilter
		}
		if s.AppArmorProfile == "" && hasAppArmor() {
			s.AppArmorProfile = strictAppArmorProfile
		}
	}
	for _, c := range drops {
		if s.dhcp && c == "CAP_NET_RAW" {
			continue
		}
		if !slices.Contains(s.Capabilities, c) && !slices.Contains(s.DropCapabilities, c) {
			s.DropCapabilities = append(s.DropCapabilities, c)
		}
	}
}

// appArmorProfiles lists the profiles the kernel has loaded, a line each
// ("NAME (MODE)"); it is missing where the kernel has no AppArmor.
var appArmorProfiles = "/sys/kernel/security/apparmor/profiles"

var profileName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)

// checkAppArmor refuses a profile the kernel cannot apply now, so that a
// container that names one fails at create, and at start, rather than
// in its boot.
func checkAppArmor(name string) error {
	if !profileName.MatchString(name) {
		return Invalid("apparmor-profile", name, "a profile name is letters, digits, '.', '_' and '-'")
	}
	data, err := os.ReadFile(appArmorProfiles)
	if errors.Is(err, fs.ErrNotExist) {
		return Invalid("apparmor-profile", name, "this kernel has no AppArmor")
	}
	if err != nil {
		return fmt.Errorf("apparmor-profile %q: %w", name, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if loaded, _, _ := strings.Cut(line, " ("); loaded == name {
			return nil
		}
	}
	why := "the kernel has no profile of that name loaded (see " + appArmorProfiles + ")"
	if name == strictAppArmorProfile {
		why += "; sdme installs it as /etc/apparmor.d/" + name + ": load it with apparmor_parser -r /etc/apparmor.d/" + name
	}
	return Invalid("apparmor-profile", name, why)
}

// capabilities are the kernel's capabilities (linux/capability.h, up to
// Linux 5.9's CAP_CHECKPOINT_RESTORE), in their order.
var capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// syscallGroups are systemd's system call sets (systemd.exec(5)).
var syscallGroups = []string{
	"aio", "basic-io", "chown", "clock", "cpu-emulation", "debug", "default", "file-system",
	"io-event", "ipc", "keyring", "known", "memlock", "module", "mount", "network-io",
	"obsolete", "pkey", "privileged", "process", "raw-io", "reboot", "resources", "sandbox",
	"setuid", "signal", "swap", "sync", "system-service", "timer",
}

var syscallName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// capabilityName returns the kernel's name of a capability given with or
// without CAP_, in any case.
func capabilityName(s string) (string, bool) {
	n := strings.ToUpper(s)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	return n, slices.Contains(capabilities, n)
}

func (s *Security) check() error {
	norm := func(field string, caps []string) ([]string, error) {
		var out []string
		for _, c := range caps {
			n, ok := capabilityName(c)
			if !ok {
				return nil, Invalid(field, c, "not a capability of the kernel (such as CAP_NET_RAW or net_raw)")
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	var err error
	if s.DropCapabilities, err = norm("drop-capability", s.DropCapabilities); err != nil {
		return err
	}
	if s.Capabilities, err = norm("capability", s.Capabilities); err != nil {
		return err
	}
	for _, c := range s.Capabilities {
		if slices.Contains(s.DropCapabilities, c) {
			return Invalid("capability", c, "it is both dropped and added")
		}
	}
	s.expandCapabilities()
	for _, f := range s.SystemCallFilter {
		if err := checkSyscallFilter(f); err != nil {
			return err
		}
	}
	if s.AppArmorProfile != "" {
		return checkAppArmor(s.AppArmorProfile)
	}
	return nil
}

func checkSyscallFilter(f string) error {
	e := strings.TrimPrefix(f, "~")
	switch {
	case strings.HasPrefix(e, "@"):
		if !slices.Contains(syscallGroups, e[1:]) {
			return Invalid("system-call-filter", f, "not one of systemd's system call groups (@"+strings.Join(syscallGroups, ", @")+")")
		}
	case !syscallName.MatchString(e):
		return Invalid("system-call-filter", f, "want @GROUP or a system call name, either after ~ to deny it")
	}
	return nil
}

func (s *Security) plan(_ Input, p *Plan) error {
	if len(s.DropCapabilities) > 0 {
		p.Nspawn = append(p.Nspawn, "--drop-capability="+strings.Join(s.DropCapabilities, ","))
	}
	if len(s.Capabilities) > 0 {
		p.Nspawn = append(p.Nspawn, "--capability="+strings.Join(s.Capabilities, ","))
	}
	if s.NoNewPrivileges {
		p.Nspawn = append(p.Nspawn, "--no-new-privileges=yes")
	}
	if s.ReadOnly {
		p.Nspawn = append(p.Nspawn, "--read-only")
	}
	for _, f := range s.SystemCallFilter {
		p.Nspawn = append(p.Nspawn, "--system-call-filter="+f)
	}
	if s.AppArmorProfile != "" {
		p.Service = append(p.Service, systemd.Set("AppArmorProfile", s.AppArmorProfile))
	}
	return nil
}

// The state keys are the original sdme's.
func (s *Security) encode(kv map[string]string) {
	if len(s.DropCapabilities) > 0 {
		kv["DROP_CAPS"] = strings.Join(s.DropCapabilities, ",")
	}
	if len(s.Capabilities) > 0 {
		kv["ADD_CAPS"] = strings.Join(s.Capabilities, ",")
	}
	if s.NoNewPrivileges {
		kv["NO_NEW_PRIVS"] = "yes"
	}
	if s.ReadOnly {
		kv["READ_ONLY"] = "yes"
	}
	if len(s.SystemCallFilter) > 0 {
		kv["SYSCALL_FILTER"] = strings.Join(s.SystemCallFilter, ",")
	}
	if s.AppArmorProfile != "" {
		kv["APPARMOR_PROFILE"] = s.AppArmorProfile
	}
	if s.Strict {
		kv["STRICT"] = "yes"
	} else if s.Hardened {
		kv["HARDENED"] = "yes"
	}
}

func (s *Security) decode(take func(string) string) error {
	s.DropCapabilities = splitList(take("DROP_CAPS"), ",")
	s.Capabilities = splitList(take("ADD_CAPS"), ",")
	s.NoNewPrivileges = take("NO_NEW_PRIVS") == "yes"
	s.ReadOnly = take("READ_ONLY") == "yes"
	s.SystemCallFilter = splitList(take("SYSCALL_FILTER"), ",")
	s.AppArmorProfile = take("APPARMOR_PROFILE")
	s.Strict = take("STRICT") == "yes"
	s.Hardened = take("HARDENED") == "yes" || s.Strict
	if s.AppArmorProfile != "" && !profileName.MatchString(s.AppArmorProfile) {
		return errors.New("APPARMOR_PROFILE is not a profile name")
	}
	for _, c := range append(append([]string{}, s.DropCapabilities...), s.Capabilities...) {
		if _, ok := capabilityName(c); !ok {
			return errors.New("DROP_CAPS or ADD_CAPS has an entry that is not a capability")
		}
	}
	for _, f := range s.SystemCallFilter {
		if checkSyscallFilter(f) != nil {
			return errors.New("SYSCALL_FILTER has an entry that is not a filter")
		}
	}
	return nil
}
