package diskimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/deps"

	"github.com/sdme/sdme/engine/mountinfo"
)

// The names Mount uses in its work directory.
const (
	rootDir    = "root"       // mount point of the partition being looked at
	exportFile = "disk"       // FUSE export of a QCOW2 image
	rawFile    = "disk.raw"   // raw copy of a QCOW2 image
	copyFile   = "copy"       // private copy of an image others can change
	stateFile  = "state.json" // loop devices and NBD device being attached
	qsdPID     = "qsd.pid"
	qsdLog     = "qsd.log"
	nbdPID     = "nbd.pid"
	nbdLog     = "nbd.log"
)

// state records attachments that do not show in the work directory's
// paths: loop devices over the image itself or over an NBD device, and the
// NBD device. Entries are written before the attachment is made, since
// its name (a loop device) is known only after, when a kill may already
// have happened.
type state struct {
	Loops []loopRecord `json:"loops,omitempty"`
	NBD   string       `json:"nbd,omitempty"`
}

// loopRef describes a loop device by what it maps.
type loopRef struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

// loopRecord is a loop device Mount attaches: by description first, then
// by name too once losetup has told it.
type loopRecord struct {
	loopRef
	Dev string `json:"dev,omitempty"`
}

func saveState(workdir string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(workdir, stateFile), data, 0o600)
}

func loadState(workdir string) (state, error) {
	var st state
	data, err := os.ReadFile(filepath.Join(workdir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(workdir, stateFile), err)
	}
	return st, nil
}

// teardown undoes whatever Mount did in workdir (see detach), and then
// removes the private copy of the image.
func teardown(workdir string) error {
	if err := detach(workdir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(workdir, copyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// detach undoes, top down, whatever Mount attached in workdir, whether
// that process is this one or one that was killed. Each step first looks
// at what the kernel has, so running it twice, or on a clean workdir, does
// nothing. It stops when the root file system will not unmount (the
// caller still uses it): pulling the layers under it would turn a busy
// mount into one that fails every read; the next call picks up from there.
//
// Below the root, users outside this mount namespace do not hold detach
// up. A namespace created while the root was mounted (a container
// starting on a host whose / is not a shared mount) keeps a copy of the
// mounts, which pins the loop device. Detach goes on, and removing the
// mount points at the end makes the kernel drop those copies, after which
// the loop device detaches itself.
func detach(workdir string) error {
	st, err := loadState(workdir)
	if err != nil {
		return err
	}
	if err := killStrays(workdir); err != nil {
		return err
	}
	if err := unmount(filepath.Join(workdir, rootDir), false); err != nil {
		return err
	}
	pending, err := detachLoops(workdir, st.Loops)
	if err != nil {
		return err
	}
	if st.NBD != "" {
		if err := disconnectNBD(workdir, st.NBD); err != nil {
			return err
		}
	}
	if err := stopDaemon(filepath.Join(workdir, qsdPID), "qemu-storage-daemon"); err != nil {
		return err
	}
	// A daemon that died without unmounting leaves a dead FUSE mount, held
	// busy by a loop device still detaching; nobody but the loop device
	// reads it, so it may go lazily.
	if err := unmount(filepath.Join(workdir, exportFile), true); err != nil {
		return err
	}
	var errs []error
	for _, name := range []string{rawFile, exportFile, qsdPID, qsdLog, nbdPID, nbdLog, rootDir, stateFile} {
		if err := os.Remove(filepath.Join(workdir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if pending = settle(pending, 5*time.Second); len(pending) > 0 {
		var names []string
		for _, l := range pending {
			names = append(names, "/dev/"+l.name)
		}
		errs = append(errs, fmt.Errorf("loop device %s is still open outside sdme; the kernel detaches it when it is closed", strings.Join(names, ", ")))
	}
	return errors.Join(errs...)
}

// mountAt returns the topmost mount on point, or an error if there is none.
func mountAt(point string) (mountinfo.Mount, error) {
	all, err := mountinfo.Read()
	if err != nil {
		return mountinfo.Mount{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Point == point {
			return all[i], nil
		}
	}
	return mountinfo.Mount{}, os.ErrNotExist
}

// unmount removes every mount stacked on point. Only the two mount points
// Mount uses are ever unmounted, never "everything below workdir": a
// caller passing a wrong directory must not lose unrelated mounts.
// EBUSY is retried for a moment, for udev probes and the like; then, if
// lazy, the mount is detached to go once unused.
func unmount(point string, lazy bool) error {
	deadline := time.Now().Add(3 * time.Second)
	for range 64 {
		if _, err := mountAt(point); errors.Is(err, os.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		err := unix.Unmount(point, 0)
		if err == nil || errors.Is(err, unix.EINVAL) {
			continue // EINVAL: it went meanwhile; look again
		}
		if errors.Is(err, unix.EBUSY) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if errors.Is(err, unix.EBUSY) && lazy {
			err = unix.Unmount(point, unix.MNT_DETACH)
			if err == nil {
				continue
			}
		}
		return fmt.Errorf("unmount %s: %w", point, err)
	}
	return fmt.Errorf("unmount %s: still mounted", point)
}

// loopDevice is a bound loop device as /sys/block/loopN/loop shows it.
type loopDevice struct {
	name, dev string // "loop3", "7:3"
	loopRef
}

func boundLoops() ([]loopDevice, error) {
	dirs, err := filepath.Glob("/sys/block/loop*/loop")
	if err != nil {
		return nil, err
	}
	var out []loopDevice
	for _, d := range dirs {
		back, err := os.ReadFile(filepath.Join(d, "backing_file"))
		if err != nil {
			continue // unbound meanwhile
		}
		sys := filepath.Dir(d)
		dev, _ := os.ReadFile(filepath.Join(sys, "dev"))
		out = append(out, loopDevice{
			name: filepath.Base(sys),
			dev:  strings.TrimSpace(string(dev)),
			loopRef: loopRef{
				File:   strings.TrimSuffix(strings.TrimSuffix(string(back), "\n"), " (deleted)"),
				Offset: readSysInt(filepath.Join(d, "offset")),
				Size:   readSysInt(filepath.Join(d, "sizelimit")),
			},
		})
	}
	return out, nil
}

// detachLoops detaches the loop devices backed by Mount's files in workdir
// (the FUSE export, the raw and private copies), which are ours whatever
// they map, and the recorded ones that still map what they were made for.
// A record without a device name (the process died during losetup)
// matches by description alone, and then only a device mounted nowhere:
// the kernel does not say who made a loop device, and a mounted one with
// the same description belongs to an import of the same image running
// beside us. It returns the devices it detached, for settle.
func detachLoops(workdir string, recs []loopRecord) ([]loopDevice, error) {
	loops, err := boundLoops()
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	mounted := map[string]bool{}
	for _, m := range mounts {
		mounted[m.Dev] = true
	}
	var detached []loopDevice
	var errs []error
	for _, l := range loops {
		ours := filepath.Dir(l.File) == workdir && slices.Contains([]string{exportFile, rawFile, copyFile}, filepath.Base(l.File))
		for _, r := range recs {
			if r.loopRef == l.loopRef {
				ours = ours || r.Dev == "/dev/"+l.name || r.Dev == "" && !mounted[l.dev]
			}
		}
		if !ours {
			continue
		}
		if err := clearLoop("/dev/" + l.name); err != nil {
			errs = append(errs, err)
			continue
		}
		detached = append(detached, l)
	}
	return detached, errors.Join(errs...)
}

// clearLoop detaches a loop device (what losetup -d does). While someone
// else has the device open, the kernel only marks it to detach on last
// close.
func clearLoop(dev string) error {
	f, err := os.Open(dev)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
	f.Close()
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	return nil
}

// settle waits up to d for detached loop devices to let go of their
// backing files, and returns those that still map what they mapped (a
// device detached and reused meanwhile is not ours any more).
func settle(loops []loopDevice, d time.Duration) []loopDevice {
	still := func() []loopDevice {
		now, _ := boundLoops()
		var out []loopDevice
		for _, l := range loops {
			for _, n := range now {
				if n.name == l.name && n.loopRef == l.loopRef {
					out = append(out, l)
				}
			}
		}
		return out
	}
	waitFor(d, func() bool { return len(still()) == 0 })
	return still()
}

// disconnectNBD disconnects dev if the qemu-nbd serving it is the one
// whose PID file is in workdir; otherwise the device has been reused by
// someone else and is left alone.
func disconnectNBD(workdir, dev string) error {
	pidfile := filepath.Join(workdir, nbdPID)
	pid, ok := daemonPID(pidfile, "qemu-nbd")
	if !ok {
		return nil
	}
	// The device names the thread of qemu-nbd that serves it.
	tid := readSysInt(filepath.Join("/sys/block", filepath.Base(dev), "pid"))
	if tid != 0 && exists(fmt.Sprintf("/proc/%d/task/%d", pid, tid)) {
		bins, err := deps.Find("qemu-nbd")
		if err != nil {
			return err
		}
		if _, err := run(context.Background(), bins[0], "--disconnect", dev); err != nil {
			return fmt.Errorf("disconnect %s: %w", dev, err)
		}
	}
	// qemu-nbd exits once its device is disconnected; stopDaemon covers
	// one that does not, or whose device went away some other way.
	return stopDaemon(pidfile, "qemu-nbd")
}

// killStrays kills the programs a killed Mount left running, other than
// the servers its PID files name (those go in order, after the devices
// that use them): a mount, losetup or qemu-img that was still at work, or
// a qemu server that had not yet written its PID file. Left alone, they
// could mount or attach behind teardown's back. Each of them has one of
// Mount's paths in workdir as an argument (or as the value of --opt=);
// only those exact paths count, so that a wrong workdir (a data directory)
// never gets unrelated programs killed. A losetup over a raw image used in
// place names no such path; it dies with its parent (see runChild).
func killStrays(workdir string) error {
	ours := map[string]bool{}
	for _, name := range []string{rootDir, exportFile, rawFile, copyFile, qsdPID, nbdPID} {
		ours[filepath.Join(workdir, name)] = true
	}
	keep := map[int]bool{os.Getpid(): true}
	if pid, ok := daemonPID(filepath.Join(workdir, qsdPID), "qemu-storage-daemon"); ok {
		keep[pid] = true
	}
	if pid, ok := daemonPID(filepath.Join(workdir, nbdPID), "qemu-nbd"); ok {
		keep[pid] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var strays []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || keep[pid] {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			_, v, _ := strings.Cut(a, "=")
			if ours[a] || ours[v] {
				strays = append(strays, pid)
				break
			}
		}
	}
	for _, pid := range strays {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range strays {
		if waitFor(5*time.Second, func() bool { return !alive(pid) }) != nil {
			return fmt.Errorf("process %d, left by an earlier import in %s, does not exit", pid, workdir)
		}
	}
	return nil
}

// daemonPID reads a qemu PID file and checks that the process is that
// program started for this work directory (it has the PID file's path in
// its arguments), so that a stale file never gets an unrelated process
// killed.
func daemonPID(pidfile, program string) (int, bool) {
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 || !alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if filepath.Base(args[0]) != program {
		return 0, false
	}
	for _, a := range args[1:] {
		if a == pidfile || strings.HasSuffix(a, "="+pidfile) {
			return pid, true
		}
	}
	return 0, false
}

// stopDaemon stops the program named by pidfile: SIGTERM lets qemu
// unmount its FUSE export and close the image; SIGKILL follows if it
// hangs. The daemons are not our children, so their exit is watched in
// /proc.
func stopDaemon(pidfile, program string) error {
	pid, ok := daemonPID(pidfile, program)
	if !ok {
		return nil
	}
	for _, s := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 10 * time.Second}, {syscall.SIGKILL, 5 * time.Second}} {
		if err := syscall.Kill(pid, s.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop %s (pid %d): %w", program, pid, err)
		}
		if waitFor(s.wait, func() bool { return !alive(pid) }) == nil {
			return nil
		}
	}
	return fmt.Errorf("%s (pid %d) does not exit", program, pid)
}

// alive reports whether pid is a process that has not exited; a zombie
// waiting for a parent that does not reap has.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// PID (COMM) STATE ...; COMM may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

func waitFor(d time.Duration, done func() bool) error {
	deadline := time.Now().Add(d)
	for !done() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// readSysInt reads a number from sysfs; a missing file reads as 0.
func readSysInt(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n
}
