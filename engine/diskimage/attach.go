package diskimage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/errdefs"
)

// checkQCOW2 refuses QCOW2 images that make qemu open other files: a
// backing file or an external data file named inside a downloaded image
// could be any file of the host (/etc/shadow, /dev/sda), which would then
// be copied into the imported tree. Encrypted images need a key.
func checkQCOW2(head []byte) error {
	if len(head) < 104 {
		return fmt.Errorf("QCOW2 header truncated: %w", errdefs.ErrCorrupt)
	}
	be := binary.BigEndian
	version := be.Uint32(head[4:])
	if version != 2 && version != 3 {
		return fmt.Errorf("QCOW2 version %d: %w", version, errdefs.ErrUnsupported)
	}
	if be.Uint64(head[8:]) != 0 {
		return fmt.Errorf("the QCOW2 image has a backing file; flatten it first (qemu-img convert -O qcow2 IMAGE FLAT.qcow2): %w", errdefs.ErrUnsupported)
	}
	if be.Uint32(head[32:]) != 0 {
		return fmt.Errorf("the QCOW2 image is encrypted: %w", errdefs.ErrUnsupported)
	}
	if version == 3 && be.Uint64(head[72:])&(1<<2) != 0 {
		return fmt.Errorf("the QCOW2 image keeps its data in an external file: %w", errdefs.ErrUnsupported)
	}
	return nil
}

// qcow2Spec is a qemu block node description of image that opens it as
// QCOW2 without probing the format and without a backing file, whatever
// its header says by the time qemu reads it.
func qcow2Spec(image string) map[string]any {
	return map[string]any{
		"driver":    "qcow2",
		"read-only": true,
		"backing":   nil,
		"file":      map[string]any{"driver": "file", "filename": image, "read-only": true},
	}
}

func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and bools always marshal
	}
	return string(b)
}

// attachQCOW2 exposes image as a raw disk and returns its path and how it
// was made. NBD comes first where the kernel has it loaded: it is a block
// device the kernel reads directly. A FUSE export of qemu-storage-daemon
// works without NBD (containers, minimal kernels) at the cost of a round
// trip through user space per read. A raw copy made with qemu-img is the
// last resort: it needs no kernel support at all, but takes time and the
// image's used size in the work directory. Loading the nbd module is left
// to the administrator: it would change the host behind their back.
func (m *Mounted) attachQCOW2(ctx context.Context, image string) (view string, err error) {
	var errs []error
	for _, s := range []struct {
		via    string
		usable func() bool
		attach func(context.Context, string) (string, error)
	}{
		{"nbd", nbdLoaded, m.attachNBD},
		{"fuse", fuseUsable, m.attachFUSE},
		{"convert", func() bool { return true }, m.attachConvert},
	} {
		if !s.usable() {
			continue
		}
		view, err := s.attach(ctx, image)
		if err == nil {
			m.Via = s.via
			return view, nil
		}
		errs = append(errs, err)
		if terr := m.detach(); terr != nil {
			return "", errors.Join(append(errs, terr)...)
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: cannot attach the QCOW2 image: %w", image, errors.Join(errs...))
}

func nbdLoaded() bool {
	return exists("/dev/nbd0") && (exists("/sys/module/nbd") || exists("/sys/block/nbd0"))
}

func fuseUsable() bool { return exists("/dev/fuse") }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// attachNBD connects image to the first free /dev/nbdN (one without a
// server and of size 0), trying the next when another process wins the
// race for a device.
func (m *Mounted) attachNBD(ctx context.Context, image string) (string, error) {
	workdir := m.workdir
	bins, err := deps.Find("qemu-nbd")
	if err != nil {
		return "", err
	}
	names, _ := filepath.Glob("/sys/block/nbd*")
	slices.SortFunc(names, func(a, b string) int { return nbdNumber(a) - nbdNumber(b) })
	var errs []error
	tries := 0
	for _, sys := range names {
		if exists(filepath.Join(sys, "pid")) || readSysInt(filepath.Join(sys, "size")) != 0 {
			continue
		}
		if tries++; tries > 4 {
			break
		}
		dev := "/dev/" + filepath.Base(sys)
		// Recorded before connecting, so that a kill right after the
		// connect still leaves Cleanup the device to disconnect.
		m.st.NBD = dev
		if err := saveState(workdir, m.st); err != nil {
			return "", err
		}
		// qemu-nbd forks a server that must outlive ctx; it is stopped by
		// teardown instead.
		err := runDaemon(bins[0], filepath.Join(workdir, nbdLog),
			"--read-only", "--connect="+dev, "--pid-file="+filepath.Join(workdir, nbdPID),
			"json:"+jsonArg(qcow2Spec(image)))
		if err == nil {
			err = waitFor(5*time.Second, func() bool { return readSysInt(filepath.Join(sys, "size")) > 0 })
			if err == nil {
				return dev, ctx.Err()
			}
			return "", fmt.Errorf("%s did not come up after qemu-nbd connected it", dev)
		}
		errs = append(errs, err)
		if err := m.detach(); err != nil {
			return "", err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("no free NBD device")
	}
	return "", errors.Join(errs...)
}

func nbdNumber(sys string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(sys), "nbd"))
	return n
}

// attachFUSE has qemu-storage-daemon export the image's raw contents as
// the regular file WORKDIR/disk.
func (m *Mounted) attachFUSE(ctx context.Context, image string) (string, error) {
	workdir := m.workdir
	bins, err := deps.Find("qemu-storage-daemon")
	if err != nil {
		return "", err
	}
	export := filepath.Join(workdir, exportFile)
	f, err := os.OpenFile(export, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	f.Close()
	spec := qcow2Spec(image)
	file := spec["file"].(map[string]any)
	file["node-name"] = "f"
	spec["node-name"] = "q"
	spec["file"] = "f"
	// --daemonize returns once the export is set up or has failed, which
	// spares polling for it; the daemon outlives ctx until teardown.
	err = runDaemon(bins[0], filepath.Join(workdir, qsdLog),
		"--daemonize", "--pidfile", filepath.Join(workdir, qsdPID),
		"--blockdev", jsonArg(file),
		"--blockdev", jsonArg(spec),
		"--export", jsonArg(map[string]any{"type": "fuse", "id": "e", "node-name": "q", "mountpoint": export, "writable": false}))
	if err != nil {
		return "", err
	}
	// The daemon succeeding is not proof: check that the kernel shows the
	// export, since a loop device over the bare placeholder file would
	// read an empty disk.
	if e, err := mountAt(export); err != nil || !strings.HasPrefix(e.FSType, "fuse") {
		return "", fmt.Errorf("qemu-storage-daemon reported success but %s is not a FUSE mount", export)
	}
	if fi, err := os.Stat(export); err != nil || fi.Size() == 0 {
		return "", fmt.Errorf("the FUSE export %s is empty", export)
	}
	return export, ctx.Err()
}

// attachConvert writes a raw copy of the image into the work directory;
// it is sparse, so it takes the space of the data the image holds.
func (m *Mounted) attachConvert(ctx context.Context, image string) (string, error) {
	workdir := m.workdir
	bins, err := deps.Find("qemu-img")
	if err != nil {
		return "", err
	}
	raw := filepath.Join(workdir, rawFile)
	if _, err := run(ctx, bins[0], "convert", "-O", "raw", "json:"+jsonArg(qcow2Spec(image)), raw); err != nil {
		return "", err
	}
	return raw, nil
}

// run runs a short-lived program that ctx may kill, and returns its
// output or an error quoting it.
func run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runChild(cmd); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", programError(bin, err, []byte(out.String()))
	}
	return out.String(), nil
}

// runChild runs cmd so that it dies with this process: a losetup or mount
// outliving a killed sdme could attach or mount after Cleanup has run.
// The kernel sends the signal when the thread that started the child
// exits, hence the thread stays locked until the child is reaped.
func runChild(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd.Run()
}

// programError quotes the first line of what a failed program said, which
// names the program itself; mount and qemu add hints on further lines.
func programError(bin string, err error, out []byte) error {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return fmt.Errorf("%s: %w", filepath.Base(bin), err)
	}
	return errors.New(line)
}

// runDaemon runs a program that forks a server and returns when the server
// is ready. Its output goes to a file, not a pipe: the server may keep a
// pipe open forever and Wait would never return. It runs without ctx:
// killing it halfway would leave a server whose PID file may not be
// written yet (teardown then finds it by its arguments). The server
// itself, a child of the program, does not inherit the death signal.
func runDaemon(bin, logPath string, args ...string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := runChild(cmd); err != nil {
		logf.Seek(0, io.SeekStart)
		out, _ := io.ReadAll(io.LimitReader(logf, 4096))
		return programError(bin, err, out)
	}
	return nil
}

// mountPartition attaches partition p of view to a read-only loop device
// and mounts the file system of kind fs (see fsKind) on mnt, returning
// the loop device.
func (m *Mounted) mountPartition(ctx context.Context, view string, p Partition, fs, mnt string) (string, error) {
	bins, err := deps.Find("losetup", "mount")
	if err != nil {
		return "", err
	}
	ref := loopRef{File: view, Offset: p.Start, Size: p.Size}
	// Recorded before attaching, so that a kill during losetup still
	// leaves Cleanup a description of the device to detach.
	m.st.Loops = append(m.st.Loops, loopRecord{loopRef: ref})
	if err := saveState(m.workdir, m.st); err != nil {
		return "", err
	}
	out, err := run(ctx, bins[0], "--find", "--show", "--read-only",
		"--offset", strconv.FormatInt(p.Start, 10), "--sizelimit", strconv.FormatInt(p.Size, 10), view)
	if err != nil {
		if ctx.Err() != nil {
			// Killed halfway, losetup may have attached a device it did
			// not get to name: the record stays for teardown to match.
			return "", err
		}
		return "", errors.Join(err, m.forget(ref))
	}
	dev := strings.TrimSpace(out)
	m.st.Loops[len(m.st.Loops)-1].Dev = dev
	if err := saveState(m.workdir, m.st); err != nil {
		return "", errors.Join(err, m.release(mnt, dev, ref))
	}
	var mountErr error
	fstype, tries := mountOptions(fs)
	for _, opts := range tries {
		if _, mountErr = run(ctx, bins[1], "-t", fstype, "-o", opts, dev, mnt); mountErr == nil {
			return dev, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return "", errors.Join(mountErr, m.release(mnt, dev, ref))
}

// safeOptions keep what the image holds from acting on the host while it
// is mounted, where a process that reaches the mount could use it: its
// setuid binaries and file capabilities raise no privileges (nosuid), its
// device nodes open no devices (nodev) and none of its programs run
// (noexec). The copy keeps all of them: these options change what the
// kernel does with such files, not the modes and device numbers that
// copying reads.
const safeOptions = "ro,nosuid,nodev,noexec"

// mountOptions gives the kernel's type for a file system of kind fs (the
// ext4 driver mounts ext2 and ext3 as well), and the option sets to try
// in turn. A file system with a dirty journal cannot replay it on a
// read-only device, so the first try tells the kernel not to; the safe
// options alone cover kernels without that option.
func mountOptions(fs string) (fstype string, tries []string) {
	switch fs {
	case "ext":
		return "ext4", []string{safeOptions + ",noload", safeOptions}
	case "xfs":
		return "xfs", []string{safeOptions + ",norecovery", safeOptions}
	case "btrfs":
		return "btrfs", []string{safeOptions + ",rescue=nologreplay", safeOptions}
	}
	return fs, []string{safeOptions} // squashfs, erofs: read-only by design
}

// release unmounts mnt and detaches the loop device of a partition that
// turned out not to be the root.
func (m *Mounted) release(mnt, dev string, ref loopRef) error {
	if err := unmount(mnt, false); err != nil {
		return err
	}
	if err := clearLoop(dev); err != nil {
		return err
	}
	// A device another mount namespace pins detaches itself later (see
	// detach); waiting only keeps devices from piling up.
	settle([]loopDevice{{name: filepath.Base(dev), loopRef: ref}}, 2*time.Second)
	return m.forget(ref)
}

func (m *Mounted) forget(ref loopRef) error {
	m.st.Loops = slices.DeleteFunc(m.st.Loops, func(r loopRecord) bool { return r.loopRef == ref })
	return saveState(m.workdir, m.st)
}
