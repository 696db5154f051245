package diskimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"

	"github.com/sdme/sdme/engine/mountinfo"
	"github.com/sdme/sdme/engine/rootonly"
)

// need skips the test unless it runs as root with loop devices and the
// programs (which .ci/run installs), and returns the programs' paths.
func need(t *testing.T, programs ...string) map[string]string {
	t.Helper()
	testroot.Require(t)
	if !exists("/dev/loop-control") {
		testroot.Missing(t, "no /dev/loop-control")
	}
	paths := map[string]string{}
	for _, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			testroot.Missing(t, "%s not installed", p)
		}
		paths[p] = path
	}
	return paths
}

func sh(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

const osRelease = "ID=sdmetest\nPRETTY_NAME=\"sdme test image\"\n"

// makeImages builds a GPT disk whose first partition (16 MiB, ext4, no
// operating system) is larger than its second (10 MiB, the root), as
// disk.raw and disk.qcow2, plus the root file system alone as root.ext4.
// The file systems are made with mkfs.ext4 -d, which needs no mount.
func makeImages(t *testing.T) (dir string) {
	bin := need(t, "mkfs.ext4", "sfdisk", "qemu-img")
	dir = t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "", bin["mkfs.ext4"], "-q", "-F", "-d", tree, filepath.Join(dir, "root.ext4"), "10M")
	sh(t, "", bin["mkfs.ext4"], "-q", "-F", "-d", empty, filepath.Join(dir, "data.ext4"), "16M")
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(raw, 32<<20); err != nil {
		t.Fatal(err)
	}
	sh(t, "label: gpt\nsize=16M, type=L\nsize=10M, type=L\n", bin["sfdisk"], "-q", raw)
	var dump struct {
		Partitiontable struct{ Partitions []struct{ Start int64 } }
	}
	if err := json.Unmarshal([]byte(sh(t, "", bin["sfdisk"], "--json", raw)), &dump); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(raw, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"data.ext4", "root.ext4"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(data, dump.Partitiontable.Partitions[i].Start*512); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sh(t, "", bin["qemu-img"], "convert", "-O", "qcow2", raw, filepath.Join(dir, "disk.qcow2"))
	return dir
}

// leftovers lists what of a Mount in workdir of image is still there.
func leftovers(t *testing.T, workdir, image string) []string {
	t.Helper()
	var out []string
	mounts, err := mountinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Point, workdir+"/") {
			out = append(out, "mount "+m.Point)
		}
	}
	loops, err := boundLoops()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range loops {
		if l.File == image || strings.HasPrefix(l.File, workdir+"/") {
			out = append(out, l.name+" over "+l.File)
		}
	}
	entries, _ := os.ReadDir(workdir)
	for _, e := range entries {
		out = append(out, "file "+e.Name())
	}
	if ps, err := exec.Command("pgrep", "-f", workdir).Output(); err == nil {
		out = append(out, "process "+strings.TrimSpace(string(ps)))
	}
	return out
}

func expectedVia(t *testing.T, kind string) string {
	if kind != "qcow2" {
		return "loop"
	}
	if nbdLoaded() {
		if _, err := exec.LookPath("qemu-nbd"); err == nil {
			return "nbd"
		}
	}
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil || !fuseUsable() {
		// A plain skip even under make test: this kernel has no NBD, and
		// qemu-storage-daemon is not in every Debian's qemu-utils.
		t.Skip("qcow2 needs NBD or qemu-storage-daemon with /dev/fuse")
	}
	return "fuse"
}

func TestMount(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	for _, c := range []struct {
		kind, file string
		index      int
	}{{"raw", "disk.raw", 2}, {"qcow2", "disk.qcow2", 2}, {"bare", "root.ext4", 0}} {
		t.Run(c.kind, func(t *testing.T) {
			via := expectedVia(t, c.kind)
			image := filepath.Join(dir, c.file)
			workdir := filepath.Join(dir, "work-"+c.kind)
			m, err := Mount(context.Background(), image, workdir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { Cleanup(workdir) })
			if m.Via != via || m.Partition.Index != c.index {
				t.Errorf("Mount: via %s, partition %d; want %s, %d", m.Via, m.Partition.Index, via, c.index)
			}
			data, err := os.ReadFile(filepath.Join(m.Dir, "etc", "os-release"))
			if err != nil || string(data) != osRelease {
				t.Errorf("os-release: %q, %v", data, err)
			}
			if err := os.WriteFile(filepath.Join(m.Dir, "x"), nil, 0o644); err == nil {
				t.Errorf("the root is writable")
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if l := leftovers(t, workdir, image); len(l) > 0 {
				t.Errorf("after Close: %v", l)
			}
		})
	}
}

// TestCleanup leaves a Mount as a killed process would, then cleans up as
// the next sdme command would.
func TestCleanup(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	for _, c := range []struct{ kind, file string }{{"raw", "disk.raw"}, {"qcow2", "disk.qcow2"}} {
		t.Run(c.kind, func(t *testing.T) {
			expectedVia(t, c.kind)
			image := filepath.Join(dir, c.file)
			workdir := filepath.Join(dir, "work-"+c.kind)
			if _, err := Mount(context.Background(), image, workdir); err != nil {
				t.Fatal(err)
			}
			if len(leftovers(t, workdir, image)) == 0 {
				t.Fatal("Mount left nothing to clean up")
			}
			// A half-done attach: a recorded loop device that was never
			// mounted, as when the kill comes between losetup and mount.
			st, err := loadState(workdir)
			if err != nil {
				t.Fatal(err)
			}
			view := st.Loops[0].File
			ref := loopRef{File: view, Offset: 1 << 20, Size: 16 << 20}
			st.Loops = append(st.Loops, loopRecord{loopRef: ref})
			if err := saveState(workdir, st); err != nil {
				t.Fatal(err)
			}
			sh(t, "", "losetup", "--find", "--read-only", "--offset", "1048576", "--sizelimit", "16777216", view)

			if err := Cleanup(workdir); err != nil {
				t.Fatal(err)
			}
			if l := leftovers(t, workdir, image); len(l) > 0 {
				t.Errorf("after Cleanup: %v", l)
			}
			if err := Cleanup(workdir); err != nil {
				t.Errorf("second Cleanup: %v", err)
			}
		})
	}
	if err := Cleanup(filepath.Join(dir, "never-used")); err != nil {
		t.Errorf("Cleanup of a missing workdir: %v", err)
	}
}

// TestMountConvert hides qemu-nbd and qemu-storage-daemon so that the
// last resort, a raw copy, is used.
func TestMountConvert(t *testing.T) {
	bin := need(t, "losetup", "mount", "qemu-img")
	dir := makeImages(t)
	path := t.TempDir()
	for name, p := range bin {
		if err := os.Symlink(p, filepath.Join(path, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", path)
	image := filepath.Join(dir, "disk.qcow2")
	workdir := filepath.Join(dir, "work")
	m, err := Mount(context.Background(), image, workdir)
	if err != nil {
		t.Fatal(err)
	}
	defer Cleanup(workdir)
	if m.Via != "convert" || m.Partition.Index != 2 {
		t.Errorf("Mount: via %s, partition %d; want convert, 2", m.Via, m.Partition.Index)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, workdir, image); len(l) > 0 {
		t.Errorf("after Close: %v", l)
	}
}

func TestMountNoOS(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	for _, file := range []string{"data.ext4", "disk.qcow2"} {
		image := filepath.Join(dir, file)
		if file == "disk.qcow2" {
			expectedVia(t, "qcow2")
			// The data partition alone: convert the image, minus its root.
			raw := filepath.Join(dir, "disk.raw")
			f, err := os.OpenFile(raw, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(make([]byte, 4096), 17<<20); err != nil { // the root's superblock
				t.Fatal(err)
			}
			f.Close()
			image = filepath.Join(dir, "noos.qcow2")
			sh(t, "", "qemu-img", "convert", "-O", "qcow2", raw, image)
		}
		workdir := filepath.Join(dir, "work-"+file)
		_, err := Mount(context.Background(), image, workdir)
		t.Logf("%s: %v", file, err)
		if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "no partition in "+image+" holds an operating system") {
			t.Errorf("%s: err = %v; want ErrUnsupported naming the image", file, err)
		}
		if err != nil && !strings.Contains(err.Error(), "ext file system without os-release") {
			t.Errorf("%s: err = %v; want it to say what the ext4 partition held", file, err)
		}
		if l := leftovers(t, workdir, image); len(l) > 0 {
			t.Errorf("%s: after failed Mount: %v", file, l)
		}
	}
}

// TestCloseBusy keeps a file open in the root: Close must fail without
// pulling the devices from under the mount, and succeed once it is closed.
func TestCloseBusy(t *testing.T) {
	need(t, "losetup", "mount")
	expectedVia(t, "qcow2")
	dir := makeImages(t)
	image := filepath.Join(dir, "disk.qcow2")
	workdir := filepath.Join(dir, "work")
	m, err := Mount(context.Background(), image, workdir)
	if err != nil {
		t.Fatal(err)
	}
	defer Cleanup(workdir)
	f, err := os.Open(filepath.Join(m.Dir, "etc", "os-release"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err == nil {
		t.Fatal("Close with a file open in the root succeeded")
	}
	if data, err := io.ReadAll(f); err != nil || string(data) != osRelease {
		t.Errorf("reading the open file after the failed Close: %q, %v", data, err)
	}
	f.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, workdir, image); len(l) > 0 {
		t.Errorf("after Close: %v", l)
	}
}

func TestMountCancelled(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	for _, file := range []string{"disk.raw", "disk.qcow2"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		image := filepath.Join(dir, file)
		workdir := filepath.Join(dir, "work-"+file)
		if _, err := Mount(ctx, image, workdir); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v; want context.Canceled", file, err)
		}
		if l := leftovers(t, workdir, image); len(l) > 0 {
			t.Errorf("%s: after cancelled Mount: %v", file, l)
		}
	}
}

func TestMountRefusesBackingFile(t *testing.T) {
	bin := need(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	over := filepath.Join(dir, "over.qcow2")
	sh(t, "", bin["qemu-img"], "create", "-q", "-f", "qcow2", base, "1M")
	sh(t, "", bin["qemu-img"], "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", over)
	_, err := Mount(context.Background(), over, filepath.Join(dir, "work"))
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "backing file") {
		t.Errorf("err = %v; want ErrUnsupported about the backing file", err)
	}
}

// TestMountFileSystems mounts roots on other file systems, as bare images,
// and a root in a logical partition of an MBR disk.
func TestMountFileSystems(t *testing.T) {
	need(t, "losetup", "mount")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "usr", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "usr", "lib", "os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(tree, "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	// A btrfs whose root sits in a directory named like Fedora's subvolume.
	btrfsTree := filepath.Join(dir, "btrfs-tree")
	if err := os.MkdirAll(btrfsTree, 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "", "cp", "-a", tree, filepath.Join(btrfsTree, "root"))

	for _, c := range []struct {
		name, program string
		make          func(t *testing.T, img string)
		sub           string
		index         int
	}{
		// A journal that needs recovery, as a VM killed mid-write leaves
		// it: plain "ro" refuses to mount it from a read-only device.
		{"ext4-dirty", "debugfs", func(t *testing.T, img string) {
			need(t, "mkfs.ext4")
			sh(t, "", "mkfs.ext4", "-q", "-F", "-d", tree, img, "8M")
			sh(t, "", "debugfs", "-w", "-R", "feature needs_recovery", img)
		}, "", 0},
		{"squashfs", "mksquashfs", func(t *testing.T, img string) {
			sh(t, "", "mksquashfs", tree, img, "-quiet", "-noappend")
		}, "", 0},
		{"btrfs", "mkfs.btrfs", func(t *testing.T, img string) {
			if err := os.WriteFile(img, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, 128<<20); err != nil {
				t.Fatal(err)
			}
			sh(t, "", "mkfs.btrfs", "-q", "--rootdir", btrfsTree, img)
		}, "root", 0},
		{"mbr-logical", "sfdisk", func(t *testing.T, img string) {
			need(t, "mkfs.ext4")
			fs := img + ".ext4"
			sh(t, "", "mkfs.ext4", "-q", "-F", "-d", tree, fs, "8M")
			if err := os.WriteFile(img, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, 24<<20); err != nil {
				t.Fatal(err)
			}
			sh(t, "label: dos\nsize=4M, type=83\ntype=5\nsize=2M, type=82\nsize=10M, type=83\n", "sfdisk", "-q", img)
			parts, err := Partitions(openFile(t, img), 24<<20)
			if err != nil || len(parts) != 3 {
				t.Fatalf("Partitions = %v, %v", parts, err)
			}
			data, err := os.ReadFile(fs)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(img, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(data, parts[2].Start); err != nil {
				t.Fatal(err)
			}
		}, "", 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			need(t, c.program)
			img := filepath.Join(dir, c.name+".img")
			c.make(t, img)
			workdir := filepath.Join(dir, "work-"+c.name)
			m, err := Mount(context.Background(), img, workdir)
			if err != nil {
				t.Fatal(err)
			}
			defer Cleanup(workdir)
			if want := filepath.Join(workdir, rootDir, c.sub); m.Dir != want || m.Partition.Index != c.index {
				t.Errorf("Mount: %s, partition %d; want %s, %d", m.Dir, m.Partition.Index, want, c.index)
			}
			if data, err := os.ReadFile(filepath.Join(m.Dir, "usr", "lib", "os-release")); err != nil || string(data) != osRelease {
				t.Errorf("os-release: %q, %v", data, err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if l := leftovers(t, workdir, img); len(l) > 0 {
				t.Errorf("after Close: %v", l)
			}
		})
	}
}

func openFile(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCloseForeignCopy starts a mount namespace while the root is mounted,
// as a container starting meanwhile does on a host whose / is not shared:
// its copy of the mounts pins the loop device, and Close must still
// leave nothing behind.
func TestCloseForeignCopy(t *testing.T) {
	bin := need(t, "losetup", "mount", "unshare")
	dir := makeImages(t)
	for _, file := range []string{"disk.raw", "disk.qcow2"} {
		t.Run(file, func(t *testing.T) {
			if file == "disk.qcow2" {
				expectedVia(t, "qcow2")
			}
			image := filepath.Join(dir, file)
			workdir := filepath.Join(dir, "work-"+file)
			m, err := Mount(context.Background(), image, workdir)
			if err != nil {
				t.Fatal(err)
			}
			defer Cleanup(workdir)
			ns := exec.Command(bin["unshare"], "-m", "--propagation", "unchanged", "sleep", "60")
			if err := ns.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { ns.Process.Kill(); ns.Wait() }()
			mountinfo := "/proc/" + strconv.Itoa(ns.Process.Pid) + "/mountinfo"
			if err := waitFor(5*time.Second, func() bool {
				data, _ := os.ReadFile(mountinfo)
				return strings.Contains(string(data), m.Dir)
			}); err != nil {
				t.Fatal("the namespace has no copy of the root")
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if l := leftovers(t, workdir, image); len(l) > 0 {
				t.Errorf("after Close: %v", l)
			}
		})
	}
}

// mountOf returns the file system type and the per-mount options of the
// topmost mount on point, as /proc/self/mountinfo shows them.
func mountOf(t *testing.T, point string) (fstype string, opts []string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != point {
			continue
		}
		if i := slices.Index(f, "-"); i > 5 && i+1 < len(f) {
			fstype, opts = f[i+1], strings.Split(f[5], ",")
		}
	}
	if fstype == "" {
		t.Fatalf("nothing is mounted on %s", point)
	}
	return fstype, opts
}

// TestMountOptions checks, while the root is mounted, that the kernel was
// told its type and that nothing on it can raise privileges, open
// devices or run.
func TestMountOptions(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	tree := filepath.Join(dir, "tree")
	for _, c := range []struct {
		name, program, fstype string
		make                  func(img string)
	}{
		{"gpt-ext4", "", "ext4", nil},
		{"squashfs", "mksquashfs", "squashfs", func(img string) { sh(t, "", "mksquashfs", tree, img, "-quiet", "-noappend") }},
		{"erofs", "mkfs.erofs", "erofs", func(img string) { sh(t, "", "mkfs.erofs", "--quiet", img, tree) }},
		{"xfs", "mkfs.xfs", "xfs", func(img string) {
			// mkfs.xfs cannot fill a file system from a directory.
			sh(t, "", "truncate", "-s", "300M", img)
			sh(t, "", "mkfs.xfs", "-q", img)
			mnt := t.TempDir()
			sh(t, "", "mount", "-o", "loop", img, mnt)
			sh(t, "", "cp", "-a", tree+"/.", mnt)
			sh(t, "", "umount", mnt)
		}},
		{"btrfs", "mkfs.btrfs", "btrfs", func(img string) {
			sh(t, "", "truncate", "-s", "128M", img)
			sh(t, "", "mkfs.btrfs", "-q", "--rootdir", tree, img)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, "disk.raw")
			if c.make != nil {
				need(t, c.program)
				img = filepath.Join(dir, c.name+".img")
				c.make(img)
			}
			workdir := filepath.Join(dir, "work-"+c.name)
			m, err := Mount(context.Background(), img, workdir)
			if err != nil {
				t.Fatal(err)
			}
			defer Cleanup(workdir)
			fstype, opts := mountOf(t, filepath.Join(workdir, rootDir))
			if fstype != c.fstype {
				t.Errorf("mounted as %s; want %s", fstype, c.fstype)
			}
			for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
				if !slices.Contains(opts, o) {
					t.Errorf("mount options %v lack %s", opts, o)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMountSkipsUnknown: a partition holding no file system sdme knows
// is never handed to the kernel to probe, and the error says what each
// partition held.
func TestMountSkipsUnknown(t *testing.T) {
	bin := need(t, "losetup", "mount", "sfdisk", "mkfs.cramfs")
	dir := makeImages(t)
	cramfs := filepath.Join(dir, "root.cramfs")
	sh(t, "", bin["mkfs.cramfs"], filepath.Join(dir, "tree"), cramfs)
	raw := filepath.Join(dir, "disk.raw")
	fillPartitions(t, raw, 32<<20, cramfs)
	workdir := filepath.Join(dir, "work")
	_, err := Mount(context.Background(), raw, workdir)
	t.Log(err)
	for _, want := range []string{
		"partition 1 (type " + linuxGUID + "): no file system sdme mounts",
		"partition 2 (type " + linuxGUID + "): no file system sdme mounts",
	} {
		if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want ErrUnsupported saying %q", err, want)
		}
	}
	if l := leftovers(t, workdir, raw); len(l) > 0 {
		t.Errorf("after failed Mount: %v", l)
	}
}

// TestMountSymlinksStayInside: the image's symlinks lead nowhere but
// into the image. An etc that links to the host's /etc does not make a
// file system an operating system, and a btrfs subvolume "root" that
// links to / does not make the host's / the tree to copy.
func TestMountSymlinksStayInside(t *testing.T) {
	need(t, "losetup", "mount")
	if !exists("/etc/os-release") {
		t.Skip("the host has no /etc/os-release to be fooled by")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, program, link, target string
		make                        func(img string)
	}{
		{"ext4-etc", "mkfs.ext4", "etc", "/etc", func(img string) {
			sh(t, "", "mkfs.ext4", "-q", "-F", "-d", tree, img, "8M")
		}},
		{"btrfs-root", "mkfs.btrfs", "root", "/", func(img string) {
			sh(t, "", "truncate", "-s", "128M", img)
			sh(t, "", "mkfs.btrfs", "-q", "--rootdir", tree, img)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			need(t, c.program)
			os.Remove(filepath.Join(tree, "etc"))
			os.Remove(filepath.Join(tree, "root"))
			if err := os.Symlink(c.target, filepath.Join(tree, c.link)); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(dir, c.name+".img")
			c.make(img)
			workdir := filepath.Join(dir, "work-"+c.name)
			m, err := Mount(context.Background(), img, workdir)
			if err == nil {
				defer Cleanup(workdir)
				t.Fatalf("Mount took %s for the root of the image", m.Dir)
			}
			if !errors.Is(err, errdefs.ErrUnsupported) {
				t.Errorf("err = %v; want ErrUnsupported", err)
			}
		})
	}
}

// TestMountPrivateCopy: an image users other than root can change is
// used through a copy in the work directory; a root-only one in place.
func TestMountPrivateCopy(t *testing.T) {
	need(t, "losetup", "mount")
	dir := makeImages(t)
	if err := rootonly.Check(dir); err != nil {
		testroot.Missing(t, "the temporary directory is not root's alone: %v", err)
	}
	users := filepath.Join(dir, "users")
	if err := os.Mkdir(users, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(users, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file string
		prepare    func(image string) string
		why        string // what Copied says; "" for in place
	}{
		{"root's", "disk.raw", func(image string) string { return image }, ""},
		{"user's file", "disk.raw", func(image string) string {
			if err := os.Chown(image, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			return image
		}, "belongs to uid 1000"},
		{"user's directory", "disk.raw", func(image string) string {
			moved := filepath.Join(users, "disk.raw")
			if err := os.Rename(image, moved); err != nil {
				t.Fatal(err)
			}
			return moved
		}, users + " belongs to uid 1000"},
		{"world-writable", "disk.qcow2", func(image string) string {
			if err := os.Chmod(image, 0o666); err != nil {
				t.Fatal(err)
			}
			return image
		}, "writable by its group or by others"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(dir, c.file)
			image := filepath.Join(dir, "case.img")
			sh(t, "", "cp", "--sparse=always", src, image)
			image = c.prepare(image)
			defer os.Remove(image)
			workdir := filepath.Join(dir, "work")
			m, err := Mount(context.Background(), image, workdir)
			if err != nil {
				t.Fatal(err)
			}
			defer Cleanup(workdir)
			copied := filepath.Join(workdir, copyFile)
			if c.why == "" && (m.Copied != "" || exists(copied)) {
				t.Errorf("a root-only image was copied: %q", m.Copied)
			}
			if c.why != "" && (!strings.Contains(m.Copied, c.why) || !exists(copied)) {
				t.Errorf("Copied = %q, copy exists: %v; want a copy because %s", m.Copied, exists(copied), c.why)
			}
			// What the kernel reads: the loop device under the root.
			backing := image
			if c.why != "" {
				backing = copied
			}
			if m.Kind == QCOW2 {
				backing = filepath.Join(workdir, map[string]string{"fuse": exportFile, "convert": rawFile, "nbd": ""}[m.Via])
			}
			loops, err := boundLoops()
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, l := range loops {
				if strings.HasPrefix(l.File, dir+"/") {
					files = append(files, l.File)
				}
			}
			if m.Via != "nbd" && !slices.Equal(files, []string{backing}) {
				t.Errorf("loop devices over %v; want one over %s", files, backing)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if l := leftovers(t, workdir, image); len(l) > 0 {
				t.Errorf("after Close: %v", l)
			}
		})
	}
}

// TestPrivateCopy copies a sparse file: the data arrives, the holes stay
// holes.
func TestPrivateCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 8 << 20, 40 << 20} {
		if _, err := f.WriteAt(bytes.Repeat([]byte{byte(off>>20) + 1}, 100000), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := privateCopy(context.Background(), f, dst); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want, _ := os.ReadFile(src)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the original (%d and %d bytes): %v", len(got), len(want), err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dst, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 4<<20 {
		t.Errorf("the copy of 300 KB of data in 64 MiB takes %d bytes", used)
	}
	if err := privateCopy(context.Background(), f, dst); !errors.Is(err, os.ErrExist) {
		t.Errorf("copying over an existing file: err = %v; want ErrExist", err)
	}
}

// TestMountSpecialFiles: a FIFO or a device where the image should be is
// refused without being opened: opening the FIFO would block for ever.
func TestMountSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(dir, "null")
	if err := os.Symlink("/dev/null", null); err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{fifo, null} {
		done := make(chan error, 1)
		go func() {
			_, err := Mount(context.Background(), image, filepath.Join(dir, "work"))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: err = %v; want ErrUnsupported, not a regular file", image, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Mount of %s still blocks after 10s", image)
		}
	}
}

// TestMountTriesAFew: a table that lists many partitions costs no more
// than maxMounts loop devices and mounts, and an error of bounded size.
func TestMountTriesAFew(t *testing.T) {
	bin := need(t, "losetup", "mount", "sfdisk", "mkfs.ext4")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	fs := filepath.Join(dir, "data.ext4")
	sh(t, "", bin["mkfs.ext4"], "-q", "-F", "-d", empty, fs, "1M")
	raw := filepath.Join(dir, "disk.raw")
	os.WriteFile(raw, nil, 0o600)
	const n = maxMounts + 8
	if err := os.Truncate(raw, (n+2)<<20); err != nil {
		t.Fatal(err)
	}
	sh(t, "label: gpt\n"+strings.Repeat("size=1M, type=L\n", n), bin["sfdisk"], "-q", raw)
	if parts := fillPartitions(t, raw, (n+2)<<20, fs); parts != n {
		t.Fatalf("%d partitions, want %d", parts, n)
	}
	workdir := filepath.Join(dir, "work")
	_, err := Mount(context.Background(), raw, workdir)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "not tried, after the 16 largest") ||
		strings.Count(err.Error(), "file system without os-release") > maxNotes {
		t.Errorf("Mount of %d partitions without an OS: %v", n, err)
	}
	if l := leftovers(t, workdir, raw); len(l) > 0 {
		t.Errorf("after failed Mount: %v", l)
	}
}

// fillPartitions writes the file system image fs (and 4 KiB of zeros
// after it) into every partition of the disk raw of size bytes, and
// returns how many there are.
func fillPartitions(t *testing.T, raw string, size int64, fs string) int {
	t.Helper()
	parts, err := Partitions(openFile(t, raw), size)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(raw, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range parts {
		if _, err := f.WriteAt(append(data, make([]byte, 4096)...), p.Start); err != nil {
			t.Fatal(err)
		}
	}
	return len(parts)
}
