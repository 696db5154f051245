package containers

import (
	"bytes"
	"fmt"
	"os"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/systemd"

	"github.com/sdme/sdme/engine/mountinfo"
)

// nspawnExport is where systemd-nspawn (257) mounts a machine's exported
// sockets.
const nspawnExport = "/run/systemd/nspawn/unix-export/"

// programs are the absolute paths written into a container's unit.
type programs struct {
	nspawn, mount, umount, rmdir string
}

func findPrograms() (programs, error) {
	p, err := deps.Find("systemd-nspawn", "mount", "umount", "rmdir")
	if err != nil {
		return programs{}, err
	}
	return programs{nspawn: p[0], mount: p[1], umount: p[2], rmdir: p[3]}, nil
}

// dropin computes the per-container part of the unit: the overlay mounts
// and the nspawn command line.
func (e *Engine) dropin(name, lower string, opaque []string, progs programs, timeout int) (systemd.Dropin, error) {
	merged := e.layout.Merged(name)
	overlay := func(lower, upper, work, target string, optional bool) systemd.Mount {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
		return systemd.Mount{
			Argv:     []string{progs.mount, "-t", "overlay", "overlay", "-o", opts, target},
			Target:   target,
			Optional: optional,
		}
	}
	mounts := []systemd.Mount{overlay(lower, e.layout.Upper(name), e.layout.Work(name), merged, false)}
	if lower == "/" {
		all, err := mountinfo.Read()
		if err != nil {
			return systemd.Dropin{}, err
		}
		for _, sub := range hostSubmounts(all, e.cfg.Datadir, opaque) {
			upper, work := e.layout.Submount(name, sub)
			for _, d := range []string{upper, work} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return systemd.Dropin{}, err
				}
			}
			// Optional: a filesystem that is gone at the next boot must not
			// keep the container from starting.
			mounts = append(mounts, overlay(sub, upper, work, merged+sub, true))
		}
	}
	return systemd.Dropin{
		Name:       name,
		Datadir:    e.cfg.Datadir,
		TimeoutSec: timeout,
		Mounts:     mounts,
		Nspawn: []string{
			progs.nspawn, "--quiet", "--keep-unit", "--boot",
			// Forward the guest's READY=1: the unit's start job then ends
			// when the container has booted, not when nspawn has started.
			"--notify-ready=yes",
			"--machine=" + name,
			"--directory=" + merged,
		},
		Umount: progs.umount,
		// nspawn leaves its socket-export mount behind when it is killed,
		// and then refuses to start the machine again.
		Cleanup: [][]string{
			{progs.umount, nspawnExport + name},
			{progs.rmdir, nspawnExport + name},
		},
	}, nil
}

// writeUnits writes the template and the container's drop-in where their
// content changed, and reports whether anything did.
func (e *Engine) writeUnits(name, lower string, opaque []string, progs programs, timeout int) (bool, error) {
	d, err := e.dropin(name, lower, opaque, progs, timeout)
	if err != nil {
		return false, err
	}
	t, err := writeIfChanged(layout.Template(), systemd.Template)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(layout.DropinDir(name), 0o755); err != nil {
		return false, err
	}
	text, err := d.Render()
	if err != nil {
		return false, fmt.Errorf("container %q: %w", name, err)
	}
	dc, err := writeIfChanged(layout.Dropin(name), text)
	return t || dc, err
}

func writeIfChanged(path, content string) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(content)) {
		return false, nil
	}
	return true, atomicfile.Write(path, []byte(content), 0o644)
}
