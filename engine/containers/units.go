package containers

import (
	"bytes"
	"fmt"
	"os"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/mountinfo"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/systemd"
)

func findPrograms() (spec.Programs, error) {
	p, err := deps.Find("systemd-nspawn", "mount", "umount", "rmdir", "systemd-run")
	if err != nil {
		return spec.Programs{}, err
	}
	// The unit of a container in a pod runs this binary (sdme pod ensure):
	// the sdme that last wrote the drop-in.
	self, err := os.Executable()
	if err != nil {
		return spec.Programs{}, fmt.Errorf("the path of sdme: %w", err)
	}
	return spec.Programs{Nspawn: p[0], Mount: p[1], Umount: p[2], Rmdir: p[3], SystemdRun: p[4], Sdme: self}, nil
}

// lowers are the read-only layers a container is built on, the top one
// first: the host's /, an imported rootfs, or an application and its base.
func (e *Engine) lowers(s spec.Spec) []string {
	if s.Rootfs == "" {
		return []string{"/"}
	}
	out := []string{e.fs.Path(s.Rootfs)}
	if base := e.fs.Base(s.Rootfs); base != "" {
		out = append(out, e.fs.Path(base))
	}
	return out
}

// plan is how container name with spec s starts on this host as it is
// now: a host clone layers the filesystems mounted below / today.
func (e *Engine) plan(name string, s spec.Spec, timeoutSec int) (spec.Plan, error) {
	progs, err := findPrograms()
	if err != nil {
		return spec.Plan{}, err
	}
	var mounts []mountinfo.Mount
	if s.Rootfs == "" {
		if mounts, err = mountinfo.Read(); err != nil {
			return spec.Plan{}, err
		}
	}
	return spec.Build(s, spec.Input{
		Name: name, Layout: e.layout, Lowers: e.lowers(s), Programs: progs,
		HostMounts: mounts, TimeoutSec: timeoutSec,
		HostResolved: exists("/run/systemd/resolve/resolv.conf"),
	})
}

// writeUnits makes the plan's directories and writes the template and the
// container's drop-in where their content changed, and reports whether
// anything did.
func (e *Engine) writeUnits(name string, p spec.Plan) (bool, error) {
	for _, d := range p.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return false, err
		}
	}
	for _, d := range p.Uppers {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return false, err
		}
		if err := os.Lchown(d, p.UppersOwner, p.UppersOwner); err != nil {
			return false, err
		}
	}
	t, err := writeIfChanged(layout.Template(), systemd.Template, 0o644)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(layout.DropinDir(name), 0o755); err != nil {
		return false, err
	}
	text, err := systemd.RenderDropin(p.Dropin())
	if err != nil {
		return false, fmt.Errorf("container %q: %w", name, err)
	}
	// Root's alone: it holds the container's environment.
	dc, err := writeIfChanged(layout.Dropin(name), text, 0o600)
	return t || dc, err
}

func writeIfChanged(path, content string, mode os.FileMode) (bool, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == mode {
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(content)) {
			return false, nil
		}
	}
	return true, atomicfile.Write(path, []byte(content), mode)
}
