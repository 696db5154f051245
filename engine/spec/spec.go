// Package spec says what a container is, as data, and how that becomes a
// running machine.
//
// A Spec holds one small options type per feature: the root file system
// (a clone of the host or an imported rootfs, see root.go), bind mounts,
// environment, resource limits. Each feature
//
//   - checks itself (check), with errors that name the field and value;
//   - may prepare files in the container's upper layer at create (prepare);
//   - contributes to the Plan (plan): mounts to make before nspawn runs,
//     nspawn arguments, [Unit] and [Service] settings of the unit drop-in;
//   - owns its keys of the state file (encode, decode).
//
// Build turns a Spec and the facts of the host (Input) into a Plan without
// touching the system, so that every feature's effect is a golden test.
// Adding a feature is one file here that implements feature and a field
// of Spec; the lifecycle code and the drop-in renderer do not change.
package spec

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/mountinfo"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/systemd"
)

// Spec is a container's settings. Its JSON form is the container's
// description in `sdme ps --json` and io.sdme.
type Spec struct {
	Root
	Network
	Binds  Binds  `json:"binds,omitempty"`
	Env    Env    `json:"env,omitempty"`
	Limits Limits `json:"limits"`
	Pod    Pod    `json:"pod,omitempty"`
	App
	Security
	UserNS
}

// feature is one aspect of a container.
type feature interface {
	// check validates the options, wrapping errdefs.ErrInvalidArgument.
	check() error
	// plan adds what the feature needs to p. It must not touch the system.
	plan(in Input, p *Plan) error
	// encode writes the feature's state keys; an unset feature writes none.
	encode(kv map[string]string)
	// decode reads the feature's keys, which take removes from the file.
	decode(take func(key string) string) error
}

// preparer is a feature that writes into the upper layer at create.
type preparer interface {
	prepare(ctx context.Context, t Tree) error
}

// features lists the features of s in the order they contribute: the
// order of nspawn's arguments and of the drop-in's settings.
func (s *Spec) features() []feature {
	return []feature{&s.Root, &s.Network, &s.Binds, &s.Env, &s.Limits, &s.Pod, &s.App, &s.Security, &s.UserNS}
}

// Check validates every feature of s, and puts values in their normal
// form (clean paths, no duplicates).
func (s *Spec) Check() error {
	if s.Pod != "" && s.OCIPod != "" {
		return Invalid("oci-pod", s.OCIPod, "the whole container is in pod "+string(s.Pod)+" already; --pod and --oci-pod do not go together")
	}
	s.Security.expand()
	s.Security.dhcp = s.Network.link()
	if s.Hardened {
		s.UserNS.Enabled = true
		// A pod's network is private already.
		if s.Pod == "" {
			s.Network.Private = true
		}
	}
	if s.OCIPod != "" && s.UserNS.Enabled {
		// setns() into a namespace needs CAP_SYS_ADMIN in the user
		// namespace that owns it: the host's, for a pod.
		return Invalid("oci-pod", s.OCIPod, "the pod's network belongs to the host's user namespace, which the container's cannot join: --oci-pod does not go with --userns, --hardened or --strict (--pod does)")
	}
	if s.OCIPod != "" {
		// The container's systemd joins the application to the pod
		// (NetworkNamespacePath=), which needs CAP_NET_ADMIN, and nspawn
		// grants that only with a network of the container's own.
		s.Network.Private = true
	}
	for _, f := range s.features() {
		if err := f.check(); err != nil {
			return err
		}
	}
	// An application's directory and its unit must show through.
	if s.OCIApp {
		for _, d := range s.OpaqueDirs {
			for _, needed := range []string{ociapp.Dir, "/" + systemUnits} {
				if mountinfo.Within(needed, d) {
					return Invalid("opaque dir", d, "it would hide "+needed+", which the container's OCI application needs")
				}
			}
		}
	}
	// A pod is the container's whole network: no other network options
	// go with it.
	if s.Pod != "" && !s.Network.hostNetwork() {
		return Invalid("pod", string(s.Pod), "a container in a pod has the pod's network; --private-network, --network-* and --port do not go with --pod")
	}
	return nil
}

// Tree is a container's layers as prepare sees them.
type Tree struct {
	Name string
	// Lowers are the read-only layers, the top one first: / or an
	// imported rootfs, or an application and its base.
	Lowers []string
	Upper  string // the container's writable layer
	// App says the top lower layer is an OCI application's.
	App bool
	// Layout places the container's volumes.
	Layout layout.Layout
}

// hostClone reports whether the tree is a clone of the host's /.
func (t Tree) hostClone() bool { return len(t.Lowers) == 1 && t.Lowers[0] == "/" }

// lowerStat finds rel in the lower layers as the merged tree shows it:
// in the top layer that has it, looked up inside that layer.
func (t Tree) lowerStat(rel string) (fs.FileInfo, error) {
	err := error(fs.ErrNotExist)
	for _, l := range t.Lowers {
		var fi fs.FileInfo
		if fi, err = intree.Stat(l, rel); err == nil {
			return fi, nil
		}
	}
	return nil, err
}

// Prepare writes into t's upper layer what the features of s need there.
// Cancelling ctx stops a long one (the copy of an image's volume).
func (s *Spec) Prepare(ctx context.Context, t Tree) error {
	for _, f := range s.features() {
		if p, ok := f.(preparer); ok {
			if err := p.prepare(ctx, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// HostUnit is a unit of the host a feature relies on, and what goes
// missing while it does not run.
type HostUnit struct {
	Unit, Without string
}

// hostNeeder is a feature that relies on a unit of the host.
type hostNeeder interface {
	hostUnits(name string) []HostUnit
}

// HostUnits lists the units of the host that container name relies on.
func (s *Spec) HostUnits(name string) []HostUnit {
	var out []HostUnit
	for _, f := range s.features() {
		if h, ok := f.(hostNeeder); ok {
			out = append(out, h.hostUnits(name)...)
		}
	}
	return out
}

// Programs are the absolute paths of the programs a unit runs.
type Programs struct {
	Nspawn, Mount, Umount, Rmdir, SystemdRun string
	// Sdme is this binary, which the unit of a container in a pod runs
	// before nspawn (sdme pod ensure).
	Sdme string
}

// Input is what Build needs to know of the host.
type Input struct {
	Name   string
	Layout layout.Layout
	// Lowers are the read-only layers, the top one first: / or an
	// imported rootfs, or an application and its base.
	Lowers   []string
	Programs Programs
	// HostMounts is the host's mount table, for a clone of /.
	HostMounts []mountinfo.Mount
	// HostResolved says systemd-resolved runs on the host, which then
	// knows the uplink's DNS servers.
	HostResolved bool
	// TimeoutSec bounds the mounts plus the boot.
	TimeoutSec int

	// shift is the container's user namespace, 0 for none: how the
	// features' mounts show files to it. Build sets it from the spec.
	shift uint32
}

// Plan is how a container is started: the mounts made before nspawn, the
// nspawn command line, and the settings of the unit's drop-in.
type Plan struct {
	// Pre are commands run before the mounts; a failure fails the start.
	Pre [][]string
	// Post are commands run once the container has booted; a failure is
	// logged, and does not undo the boot.
	Post [][]string
	// Mounts run in order before nspawn, and are undone in reverse.
	Mounts []Mount
	// Nspawn is the full systemd-nspawn command line.
	Nspawn []string
	// Unit and Service are settings for the drop-in's sections.
	Unit, Service []systemd.Setting
	// Dirs must exist before the unit starts (work directories, mount
	// points, volumes), owned by the host's root.
	Dirs []string
	// Uppers are upper layers that must exist before the unit starts (of
	// host submounts), owned by UppersOwner, the container's root as the
	// host sees it.
	Uppers      []string
	UppersOwner int
	// cleanup commands run after the unmounts; their failures are ignored.
	cleanup [][]string
	umount  string
}

// Mount is one mount command run before nspawn.
type Mount struct {
	Argv   []string
	Target string
	// Optional mounts may fail without failing the start.
	Optional bool
}

// nspawnExport is where systemd-nspawn (257) mounts a machine's exported
// sockets.
const nspawnExport = "/run/systemd/nspawn/unix-export/"

// Build turns s into the plan that starts it. It reads nothing but its
// arguments.
func Build(s Spec, in Input) (Plan, error) {
	in.shift = s.UserNS.Shift
	merged := in.Layout.Merged(in.Name)
	p := Plan{
		Nspawn: []string{
			in.Programs.Nspawn, "--quiet", "--keep-unit", "--boot",
			// Forward the guest's READY=1: the unit's start job then ends
			// when the container has booted, not when nspawn has started.
			"--notify-ready=yes",
			"--machine=" + in.Name,
			"--directory=" + merged,
		},
		Unit: []systemd.Setting{
			systemd.Set("Description", "sdme container "+in.Name),
			systemd.Set("RequiresMountsFor", in.Layout.Datadir),
		},
		Service: []systemd.Setting{
			systemd.Raw("TimeoutStartSec", fmt.Sprintf("%ds", in.TimeoutSec)),
		},
		UppersOwner: int(in.shift),
		umount:      in.Programs.Umount,
		// nspawn leaves its socket-export mount behind when it is killed,
		// and then refuses to start the machine again.
		cleanup: [][]string{
			{in.Programs.Umount, nspawnExport + in.Name},
			{in.Programs.Rmdir, nspawnExport + in.Name},
		},
	}
	for _, f := range s.features() {
		if err := f.plan(in, &p); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// Dropin returns the drop-in's sections: the plan's settings, then the
// mounts, nspawn and the teardown.
func (p Plan) Dropin() []systemd.Section {
	svc := append([]systemd.Setting(nil), p.Service...)
	for _, argv := range p.Pre {
		svc = append(svc, systemd.Exec("ExecStartPre", "", argv))
	}
	for _, m := range p.Mounts {
		prefix := ""
		if m.Optional {
			prefix = "-"
		}
		svc = append(svc, systemd.Exec("ExecStartPre", prefix, m.Argv))
	}
	// The template's ExecStart=/bin/false is reset, not added to.
	svc = append(svc, systemd.Set("ExecStart", ""), systemd.Exec("ExecStart", "", p.Nspawn))
	for _, argv := range p.Post {
		svc = append(svc, systemd.Exec("ExecStartPost", "-", argv))
	}
	// Unmount in reverse order, deepest first. Failures are ignored: the
	// mount may never have been made. Recursively: the drop-in may have been
	// rewritten while the container ran (SetLimits) from a mount table that
	// has changed since it started, and whatever is left below a target
	// must not keep it mounted.
	for i := len(p.Mounts) - 1; i >= 0; i-- {
		svc = append(svc, systemd.Exec("ExecStopPost", "-", []string{p.umount, "-R", p.Mounts[i].Target}))
	}
	for _, argv := range p.cleanup {
		svc = append(svc, systemd.Exec("ExecStopPost", "-", argv))
	}
	return []systemd.Section{{Name: "Unit", Settings: p.Unit}, {Name: "Service", Settings: svc}}
}

// Encode writes s as state file keys into kv.
func (s Spec) Encode(kv map[string]string) {
	for _, f := range s.features() {
		f.encode(kv)
	}
}

// Decode reads a Spec from state file keys; take removes a key and returns
// its value ("" when absent). A state file written before a feature
// existed has none of its keys, and decodes to the feature unset.
func Decode(take func(key string) string) (Spec, error) {
	var s Spec
	for _, f := range s.features() {
		if err := f.decode(take); err != nil {
			return Spec{}, fmt.Errorf("%w: %w", err, errdefs.ErrCorrupt)
		}
	}
	return s, nil
}

// Invalid is the error of a feature's check: it names the field and the
// value.
func Invalid(field, value, why string) error {
	return fmt.Errorf("%s %q: %s: %w", field, value, why, errdefs.ErrInvalidArgument)
}

// hasControl reports a character that no unit file or state line carries.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// splitList splits a state value; "" is no items.
func splitList(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}
