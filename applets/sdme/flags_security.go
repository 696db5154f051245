package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// securityFlags narrow what the container's root may do (nspawn's
// options of the same names), one by one or as a profile.
type securityFlags struct {
	drop, add, filters                []string
	noNewPrivileges, readOnly, userns bool
	hardened, strict                  bool
	appArmor                          string
}

func (f *securityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.userns, "userns", false, "run the container in a user namespace of its own: its root is an unprivileged user of the host")
	fl.BoolVar(&f.hardened, "hardened", false, "--userns, --private-network, --no-new-privileges, and drop CAP_SYS_PTRACE, CAP_NET_RAW, CAP_SYS_RAWIO and CAP_SYS_BOOT")
	fl.BoolVar(&f.strict, "strict", false, "--hardened, Docker's capabilities, Docker's system call filter, and AppArmor where the kernel has it")
	fl.StringArrayVar(&f.drop, "drop-capability", nil, "drop capability `CAP` (CAP_NET_RAW or net_raw) from the container (repeatable)")
	fl.StringArrayVar(&f.add, "capability", nil, "give the container capability `CAP` beyond nspawn's default set (repeatable)")
	fl.BoolVar(&f.noNewPrivileges, "no-new-privileges", false, "no process of the container may gain privileges (setuid, file capabilities)")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the container's root read-only")
	fl.StringVar(&f.appArmor, "apparmor-profile", "", "confine the container with AppArmor profile `NAME`, which the kernel must have loaded")
	fl.StringArrayVar(&f.filters, "system-call-filter", nil, "allow (or with ~, deny) system calls: `FILTER` is @group or a name, as systemd's SystemCallFilter= (repeatable)")
}

func (f *securityFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	s.Security = spec.Security{
		DropCapabilities: f.drop, Capabilities: f.add,
		NoNewPrivileges: f.noNewPrivileges, ReadOnly: f.readOnly,
		SystemCallFilter: f.filters, AppArmorProfile: f.appArmor,
		Hardened: f.hardened, Strict: f.strict,
	}
	s.UserNS = spec.UserNS{Enabled: f.userns}
	return nil
}
