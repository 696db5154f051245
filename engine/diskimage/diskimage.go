// Package diskimage finds the root file system inside a QCOW2 or raw disk
// image and mounts it read-only, so that an import can copy the tree.
//
// Partition tables are parsed here rather than by the kernel, since
// kernels without partition scanning on loop devices (and without NBD)
// are common in build machines and containers. Every partition is
// reached through a read-only loop device with an offset. A raw image is
// the loop's backing file directly; a QCOW2 image is first exposed as a
// raw block device or file by qemu (see attachQCOW2 for the order).
//
// An image that users other than root can change is copied into the work
// directory first, and only the copy is checked and used: otherwise its
// owner could swap the file, or rewrite the QCOW2 header that was
// checked, between the check and the moment qemu or the loop driver opens
// it by name.
//
// Everything Mount creates lives in, or is recorded in, its work
// directory, so that Cleanup can undo it after the importing process was
// killed: mounts at WORKDIR/root and WORKDIR/disk, the private copy
// WORKDIR/copy, loop devices recorded in WORKDIR/state.json or backed by
// files in WORKDIR, and the qemu processes named by PID files in WORKDIR.
package diskimage

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/rootonly"
)

// Kind is the container format of a disk image.
type Kind int

const (
	Raw Kind = iota + 1
	QCOW2
)

func (k Kind) String() string {
	switch k {
	case Raw:
		return "raw"
	case QCOW2:
		return "qcow2"
	}
	return "unknown"
}

// Detect tells a disk image from the first 4096 bytes of a file: QCOW2 by
// its magic, raw by an MBR or GPT signature or by the superblock of a bare
// file system (ext2/3/4, XFS, SquashFS, EROFS; Mount also recognises
// btrfs, whose superblock lies beyond those bytes).
func Detect(head []byte) (Kind, bool) {
	switch {
	case len(head) >= 4 && string(head[:4]) == "QFI\xfb":
		return QCOW2, true
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xAA,
		len(head) >= 520 && string(head[512:520]) == "EFI PART",
		fsKind(bytes.NewReader(head)) != "":
		return Raw, true
	}
	return 0, false
}

// Mounted is the root file system of a disk image, mounted read-only.
type Mounted struct {
	// Dir is the root directory of the image's operating system.
	Dir string
	// Kind is the image's format.
	Kind Kind
	// Via says how the image was attached: "loop" (a raw image),
	// "nbd" (qemu-nbd), "fuse" (a qemu-storage-daemon FUSE export) or
	// "convert" (a raw copy made by qemu-img in the work directory).
	Via string
	// Partition is the partition Dir is mounted from.
	Partition Partition
	// Copied is empty when the image was used in place. Otherwise Mount
	// worked on a private copy in the work directory, and Copied says why:
	// "/home/u/x.qcow2 belongs to uid 1000: can be changed by users other
	// than root".
	Copied string

	workdir string
	st      state // what is attached, as saved in WORKDIR/state.json
	closed  bool
}

// Mount attaches image read-only, finds the partition that holds an
// operating system (etc/os-release or usr/lib/os-release), trying the
// largest first, and mounts it read-only below workdir. An image users
// other than root can change is copied into workdir first (see Copied),
// where the copy takes the room of the image's data. The caller must
// Close the result, and must not use workdir for anything else nor let
// two processes use it at once. Leftovers of an earlier Mount in the same
// workdir are cleaned up first. On error, and when ctx is cancelled,
// everything is undone before Mount returns; should that fail as well, the
// error says so and Cleanup(workdir) finishes the job later.
func Mount(ctx context.Context, image, workdir string) (_ *Mounted, err error) {
	image, err = filepath.Abs(image)
	if err != nil {
		return nil, err
	}
	if workdir, err = prepareWorkdir(workdir); err != nil {
		return nil, err
	}
	f, err := intree.OpenFile(image)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kind, err := inspect(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	if err := teardown(workdir); err != nil {
		return nil, fmt.Errorf("cleaning up an earlier import in %s: %w", workdir, err)
	}
	m := &Mounted{Kind: kind, workdir: workdir}
	defer func() {
		if err != nil {
			if cerr := m.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up after %s: %w", image, cerr))
			}
		}
	}()
	view, err := m.imageFile(ctx, image, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	m.Via = "loop"
	if kind == QCOW2 {
		if view, err = m.attachQCOW2(ctx, view); err != nil {
			return nil, err
		}
	}
	parts, err := readPartitions(view)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	if err := m.mountRoot(ctx, image, view, parts); err != nil {
		return nil, err
	}
	return m, nil
}

// inspect tells the kind of the image open as f, and refuses a QCOW2
// image that would make qemu open other files (see checkQCOW2).
func inspect(f *os.File) (Kind, error) {
	head := make([]byte, 4096)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	kind, ok := Detect(head[:n])
	if !ok && fsKind(f) != "" {
		kind, ok = Raw, true // btrfs: its superblock is at 64 KiB
	}
	if !ok {
		return 0, fmt.Errorf("neither a QCOW2 nor a raw disk image: %w", errdefs.ErrUnsupported)
	}
	if kind == QCOW2 {
		if err := checkQCOW2(head[:n]); err != nil {
			return 0, err
		}
	}
	return kind, nil
}

// othersCanChange says why users other than root could change the image
// at path, open as f, or returns nil when only root can. Both the path
// (the file and every directory above it, rootonly.Check) and the file
// that was opened count: a user may have swapped the file before it was
// opened.
func othersCanChange(path string, f *os.File) error {
	if err := rootonly.Check(path); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Uid != 0 {
		return fmt.Errorf("%s belongs to uid %d: %w", path, st.Uid, rootonly.ErrNotRootOnly)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or by others (mode %04o): %w", path, st.Mode&0o7777, rootonly.ErrNotRootOnly)
	}
	return nil
}

// imageFile returns the path qemu or the loop driver is to open for the
// image at path, open as f: the image itself when only root can change
// it, and otherwise a private copy (see Copied).
func (m *Mounted) imageFile(ctx context.Context, path string, f *os.File) (string, error) {
	if why := othersCanChange(path, f); why != nil {
		m.Copied = why.Error()
		return m.copyImage(ctx, f)
	}
	// Loop devices name their backing file by its resolved path.
	return filepath.EvalSymlinks(path)
}

// copyImage copies the image open as src into the work directory and
// checks the copy as Mount checked the original: the copy is what qemu
// and the loop driver get, and the original may have changed meanwhile.
func (m *Mounted) copyImage(ctx context.Context, src *os.File) (string, error) {
	path := filepath.Join(m.workdir, copyFile)
	if err := privateCopy(ctx, src, path); err != nil {
		return "", fmt.Errorf("copying the image to %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	kind, err := inspect(f)
	if err != nil {
		return "", fmt.Errorf("the copy: %w", err)
	}
	if kind != m.Kind {
		return "", fmt.Errorf("the image changed from %s to %s while it was copied: %w", m.Kind, kind, errdefs.ErrCorrupt)
	}
	return path, nil
}

func prepareWorkdir(workdir string) (string, error) {
	workdir, err := filepath.Abs(workdir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(workdir, 0o700); err != nil {
		return "", err
	}
	// Loop devices and mountinfo name resolved paths; so must we.
	return filepath.EvalSymlinks(workdir)
}

func readPartitions(view string) ([]Partition, error) {
	f, err := os.Open(view)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	return Partitions(f, size)
}

// notFileSystems are partition types that never hold a file system.
var notFileSystems = map[string]bool{
	"82":                                   true, // Linux swap
	"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": true, // Linux swap
	"21686148-6449-6e6f-744e-656564454649": true, // BIOS boot
}

// btrfsRoots are the subvolumes that Fedora ("root") and Ubuntu and others
// ("@") install the root to, which appear as directories when the default
// subvolume is the top level.
var btrfsRoots = []string{"root", "@"}

// A disk holds a handful of partitions; a crafted table may list
// thousands (32768 GPT entries), each a loop device and a mount to try,
// and a note in the error.
const (
	maxMounts = 16
	maxNotes  = 8
)

// mountRoot mounts the partitions of view one at a time, largest first,
// until one holds an operating system. Only file systems sdme recognises
// are handed to the kernel, each under its own type: without one, mount
// would have the kernel try every file system it has (or can load) on
// whatever a partition holds, and the less used of those drivers are not
// hardened against crafted images.
func (m *Mounted) mountRoot(ctx context.Context, image, view string, parts []Partition) error {
	parts = slices.Clone(parts)
	slices.SortStableFunc(parts, func(a, b Partition) int { return cmp.Compare(b.Size, a.Size) })
	disk, err := os.Open(view)
	if err != nil {
		return err
	}
	defer disk.Close()
	mnt := filepath.Join(m.workdir, rootDir)
	if err := os.Mkdir(mnt, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	var notes []string
	notTried := ""
	seen := map[[2]int64]bool{}
	mounts := 0
	for _, p := range parts {
		if notFileSystems[p.Type] || seen[[2]int64{p.Start, p.Size}] {
			continue
		}
		seen[[2]int64{p.Start, p.Size}] = true
		fs := fsKind(io.NewSectionReader(disk, p.Start, p.Size))
		if fs == "" {
			notes = append(notes, fmt.Sprintf("partition %d (type %s): no file system sdme mounts (ext4, XFS, btrfs, SquashFS, EROFS)", p.Index, p.Type))
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if mounts++; mounts > maxMounts {
			notTried = fmt.Sprintf("partition %d and smaller ones: not tried, after the %d largest", p.Index, maxMounts)
			break
		}
		dev, err := m.mountPartition(ctx, view, p, fs, mnt)
		if errors.Is(err, errdefs.ErrMissingProgram) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", image, err)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("partition %d: %v", p.Index, err))
			continue
		}
		subs := []string{""}
		if e, err := mountAt(mnt); err == nil && e.FSType == "btrfs" {
			subs = append(subs, btrfsRoots...)
		}
		for _, sub := range subs {
			if dir := filepath.Join(mnt, sub); isDir(dir) && hasOSRelease(dir) {
				m.Dir = dir
				m.Partition = p
				return nil
			}
		}
		if err := m.release(mnt, dev, loopRef{File: view, Offset: p.Start, Size: p.Size}); err != nil {
			return fmt.Errorf("%s: %w", image, err)
		}
		notes = append(notes, fmt.Sprintf("partition %d: %s file system without os-release", p.Index, fs))
	}
	msg := fmt.Sprintf("no partition in %s holds an operating system (looked for etc/os-release)", image)
	if len(notes) > maxNotes {
		notes = append(notes[:maxNotes], fmt.Sprintf("and %d more", len(notes)-maxNotes))
	}
	if notTried != "" {
		notes = append(notes, notTried)
	}
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	return fmt.Errorf("%s: %w", msg, errdefs.ErrUnsupported)
}

// isDir reports whether path is a directory and not a symlink: a
// subvolume "root" that is a symlink to / would hand the host's root to
// the copy.
func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

// hasOSRelease reports whether the tree at dir holds an os-release file.
// Its symlinks resolve inside the tree (intree): an image whose etc is a
// symlink to /etc must not pass for an operating system on the strength
// of the host's os-release.
func hasOSRelease(dir string) bool {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		if fi, err := intree.Stat(dir, p); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// Close unmounts the root file system and detaches everything Mount
// attached. It can be called again after an error, and after success it
// does nothing.
func (m *Mounted) Close() error {
	if m.closed {
		return nil
	}
	if err := m.teardown(); err != nil {
		return err
	}
	m.closed = true
	return nil
}

func (m *Mounted) teardown() error {
	if err := teardown(m.workdir); err != nil {
		return err
	}
	m.st = state{}
	return nil
}

// detach undoes a failed attempt to attach the image, and keeps the
// private copy for the next one.
func (m *Mounted) detach() error {
	if err := detach(m.workdir); err != nil {
		return err
	}
	m.st = state{}
	return nil
}

// Cleanup undoes what a Mount in workdir left behind when its process
// died before Close: it unmounts, detaches loop devices, disconnects NBD
// and stops the qemu storage daemon. A missing workdir has nothing to
// clean.
func Cleanup(workdir string) error {
	workdir, err := filepath.Abs(workdir)
	if err != nil {
		return err
	}
	if workdir, err = filepath.EvalSymlinks(workdir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return teardown(workdir)
}
