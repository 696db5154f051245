package containers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/spec"
)

// reserveShift gives container name a user namespace range no other
// container has, and checks that its lower layers can be mounted
// idmapped. The lock it returns is held until the state file records the
// range, so that two creates cannot pick the same.
func (e *Engine) reserveShift(name string, sp *spec.Spec) (*lock.Lock, error) {
	if err := e.probeIDMap(e.lowers(*sp)); err != nil {
		return nil, err
	}
	// Creates wait for each other here only while they prepare layers.
	l, err := lock.Exclusive(e.layout.LockFile("userns", "shift"), "the user namespace ranges", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	states, err := e.states()
	if err != nil {
		l.Unlock()
		return nil, err
	}
	used := subordinateRanges("/etc/subuid", "/etc/subgid")
	for _, st := range states {
		switch {
		case st.name == name:
		case st.err == nil && st.c.Spec.UserNS.Enabled:
			used[st.c.Spec.UserNS.Shift] = true
		case st.err != nil:
			// A damaged state may still name its range: keep it.
			if s, ok := damagedShift(e.layout.StateFile(st.name)); ok {
				used[s] = true
			}
		}
	}
	if sp.UserNS.Shift, err = spec.AllocateShift(name, used); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// probeIDMap mounts each lower layer idmapped, and an overlay on it, as
// the container's unit will, and undoes both: a kernel, filesystem or
// mount program without idmapped mounts, or an overlayfs that cannot
// stack on them (before Linux 5.19), fails here, at create, rather than
// at every start.
func (e *Engine) probeIDMap(lowers []string) error {
	progs, err := deps.Find("mount")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(e.layout.ContainersDir(), ".idmap-probe-")
	if err != nil {
		return err
	}
	lower, upper, work, merged := filepath.Join(dir, "l"), filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "m")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	// rmdir, never a recursive delete: it fails on a mount point, so
	// nothing is ever deleted through a mount left behind.
	defer func() {
		for _, d := range []string{lower, upper, work, merged, dir} {
			os.Remove(d)
		}
	}()
	unmount := func(p string) {
		unix.Unmount(p, unix.MNT_DETACH)
	}
	fail := func(what, layer, says string) error {
		return fmt.Errorf("%w: a user namespace needs %s of %s, and %s "+
			"(idmapped mounts need Linux 5.12 or later, a filesystem that supports them such as ext4, xfs, btrfs or tmpfs, "+
			"and util-linux 2.39 or later; overlayfs stacks on them from Linux 5.19)",
			errdefs.ErrFailedPrecondition, what, filepath.Clean(layer), says)
	}
	for _, l := range lowers {
		out, err := exec.Command(progs[0], "--bind", "--make-private", "-o",
			spec.IDMapOption(spec.UsernsProbeShift), l, lower).CombinedOutput()
		if err != nil {
			unmount(lower) // a mount(8) that bound, then failed to remount
			return fail("an idmapped mount", l, "mount says: "+strings.TrimSpace(string(out)))
		}
		// util-linux before 2.39 ignores X-mount.idmap and binds plainly.
		if err := shifted(l, lower); err != nil {
			unmount(lower)
			return fail("an idmapped mount", l, err.Error())
		}
		err = unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work)
		if err == nil {
			unmount(merged)
		}
		unmount(lower)
		if err != nil {
			return fail("an overlay on an idmapped mount", l, "the kernel says: "+err.Error())
		}
	}
	return nil
}

// shifted checks that the idmapped mount at mnt of dir shows dir's owner
// moved by the probe's shift.
func shifted(dir, mnt string) error {
	var orig, seen unix.Stat_t
	if err := unix.Stat(dir, &orig); err != nil {
		return err
	}
	if err := unix.Stat(mnt, &seen); err != nil {
		return err
	}
	if orig.Uid < spec.UsernsRange && seen.Uid != orig.Uid+spec.UsernsProbeShift {
		return fmt.Errorf("the mount shows owner %d, not %d: this mount program ignores X-mount.idmap", seen.Uid, orig.Uid+spec.UsernsProbeShift)
	}
	return nil
}

// subordinateRanges are the slots of 65536 IDs that overlap the host
// users' subordinate IDs (/etc/subuid, /etc/subgid), which newuidmap
// lets those users map: a container there would share its IDs with
// their user namespaces.
func subordinateRanges(files ...string) map[uint32]bool {
	used := map[uint32]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.Split(strings.TrimSpace(line), ":")
			if len(parts) != 3 {
				continue
			}
			start, err1 := strconv.ParseUint(parts[1], 10, 32)
			count, err2 := strconv.ParseUint(parts[2], 10, 32)
			if err1 != nil || err2 != nil || count == 0 {
				continue
			}
			for slot := start / spec.UsernsRange; slot*spec.UsernsRange < start+count && slot < 1<<16; slot++ {
				used[uint32(slot*spec.UsernsRange)] = true
			}
		}
	}
	return used
}

// damagedShift reads USERNS_SHIFT from a state file that does not parse.
func damagedShift(path string) (uint32, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "USERNS_SHIFT="); ok {
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				return uint32(n), true
			}
		}
	}
	return 0, false
}
