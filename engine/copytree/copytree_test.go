package copytree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/internal/testroot"
)

// capNetRaw is a security.capability value (VFS_CAP_REVISION_2, effective)
// granting cap_net_raw, as setcap cap_net_raw+ep writes it.
var capNetRaw = []byte{
	0x01, 0x00, 0x00, 0x02,
	0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
}

// makeTree fills dir with every kind of file a root filesystem holds, and
// returns the paths in it, relative to dir, and the number of bytes of
// file content, holes left out.
func makeTree(t *testing.T, dir string) (rels []string, size int64) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(rel string) string { return filepath.Join(dir, rel) }
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB

	must(os.Chmod(dir, 0o750))
	must(os.Chown(dir, 0, 5))
	must(unix.Lsetxattr(dir, "trusted.root", []byte("r"), 0))
	for _, d := range []string{"usr", "usr/bin", "etc", "tmp", "dev", "run", "opaque", "empty"} {
		must(os.Mkdir(p(d), 0o755))
	}
	must(unix.Chmod(p("tmp"), 0o1777))
	must(unix.Chmod(p("usr/bin"), 0o2775))
	must(os.Chown(p("usr/bin"), 0, 50))
	must(unix.Lsetxattr(p("opaque"), "trusted.overlay.opaque", []byte("y"), 0))

	must(os.WriteFile(p("usr/bin/ping"), []byte("ELF ping"), 0o755))
	must(os.Chown(p("usr/bin/ping"), 1000, 2000))
	must(unix.Chmod(p("usr/bin/ping"), 0o4755))
	must(unix.Lsetxattr(p("usr/bin/ping"), "security.capability", capNetRaw, 0))
	must(unix.Lsetxattr(p("usr/bin/ping"), "user.comment", []byte("hi"), 0))
	must(os.WriteFile(p("usr/bin/big"), big, 0o644))
	must(os.WriteFile(p("etc/empty"), nil, 0o600))
	must(os.WriteFile(p("etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644))
	must(os.Link(p("etc/hosts"), p("etc/hosts.link")))
	must(os.Link(p("etc/hosts"), p("usr/hosts.other-dir")))

	// A sparse file: data, a 16 MiB hole, data, and a hole to the end.
	f, err := os.Create(p("usr/sparse"))
	must(err)
	_, err = f.WriteAt([]byte("start"), 0)
	must(err)
	_, err = f.WriteAt([]byte("middle"), 16<<20)
	must(err)
	must(f.Truncate(40 << 20))
	must(f.Close())

	must(os.Symlink("/etc/passwd", p("etc/abs-out")))
	must(os.Symlink("../../../outside", p("etc/rel-out")))
	must(os.Symlink("/", p("rootlink")))
	must(os.Symlink("bin", p("usr/sbin")))
	must(unix.Lchown(p("usr/sbin"), 7, 8))
	must(unix.Lsetxattr(p("usr/sbin"), "trusted.link", []byte("l"), 0))
	must(os.Link(p("usr/sbin"), p("usr/sbin.hard"))) // a hard link to a symlink

	must(unix.Mknod(p("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mknod(p("dev/loop0"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	must(unix.Chown(p("dev/loop0"), 0, 6))
	must(unix.Mknod(p("run/initctl"), unix.S_IFIFO|0o600, 0))
	must(unix.Lsetxattr(p("run/initctl"), "trusted.fifo", []byte("f"), 0))
	must(unix.Mknod(p("run/sock"), unix.S_IFSOCK|0o777, 0))

	// Times last, leaves first, so that creating entries does not move
	// them again.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		rels = append(rels, rel)
		return err
	})
	for i := len(rels) - 1; i >= 0; i-- {
		at := unix.Timespec{Sec: 1600000000 + int64(i), Nsec: 123456789}
		mt := unix.Timespec{Sec: 1650000000 + int64(i), Nsec: 987654321}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p(rels[i]), []unix.Timespec{at, mt}, unix.AT_SYMLINK_NOFOLLOW))
	}
	return rels, int64(len("ELF ping") + len(big) + len("127.0.0.1 localhost\n") + len("start") + len("middle"))
}

// stats describes each path of rels under root: everything Copy keeps
// but content and symlink targets. Reading a directory, a file or a
// symlink moves its atime, so stats reads none of them; hard links show
// as the first path of their inode.
func stats(t *testing.T, root string, rels []string) map[string]string {
	t.Helper()
	desc := map[string]string{}
	inodes := map[uint64]string{}
	for _, rel := range rels {
		path := filepath.Join(root, rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			t.Fatal(err)
		}
		d := fmt.Sprintf("mode=%o own=%d:%d size=%d blocks<=%d rdev=%d nlink=%d mtime=%d.%09d atime=%d.%09d xattrs=%s",
			st.Mode, st.Uid, st.Gid, st.Size, blocksBucket(st.Blocks), st.Rdev, st.Nlink,
			st.Mtim.Sec, st.Mtim.Nsec, st.Atim.Sec, st.Atim.Nsec, xattrs(t, path))
		if first, ok := inodes[st.Ino]; ok && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			d += " link-of=" + first
		}
		inodes[st.Ino] = rel
		desc[rel] = d
	}
	return desc
}

// contents describes the paths under root by their content and targets.
func contents(t *testing.T, root string, rels []string) map[string]string {
	t.Helper()
	desc := map[string]string{}
	for _, rel := range rels {
		path := filepath.Join(root, rel)
		st, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(path)
			desc[rel] = "-> " + l
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(path)
			desc[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		case st.IsDir():
			names, _ := os.ReadDir(path)
			desc[rel] = fmt.Sprint(len(names), " entries")
		}
	}
	return desc
}

func sameDesc(t *testing.T, what string, src, dst map[string]string) {
	t.Helper()
	for rel, d := range src {
		if dst[rel] != d {
			t.Errorf("%s: %s:\n  src %s\n  dst %s", rel, what, d, dst[rel])
		}
	}
}

// blocksBucket rounds an allocation up to a power of two, so that holes
// show but filesystem detail does not.
func blocksBucket(b int64) int64 {
	n := int64(8)
	for n < b {
		n *= 2
	}
	return n
}

func xattrs(t *testing.T, path string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var out []string
	for _, name := range names {
		if name == "" {
			continue
		}
		v := make([]byte, 256)
		m, err := unix.Lgetxattr(path, name, v)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		out = append(out, fmt.Sprintf("%s=%q", name, v[:m]))
	}
	return strings.Join(out, ",")
}

func TestCopy(t *testing.T) {
	testroot.Require(t)
	src, dst := t.TempDir(), t.TempDir()
	rels, size := makeTree(t, src)
	before := stats(t, src, rels)
	if !strings.Contains(before["usr/bin/ping"], "security.capability=") || !strings.Contains(before["opaque"], "trusted.overlay.opaque=") {
		t.Fatalf("the test tree lacks its xattrs: %s", before["usr/bin/ping"])
	}

	var reported int64
	if err := Copy(context.Background(), src, dst, func(n int64) { reported += n }); err != nil {
		t.Fatal(err)
	}
	sameDesc(t, "metadata", before, stats(t, dst, rels))
	sameDesc(t, "content", contents(t, src, rels), contents(t, dst, rels))
	// Data segments are whole blocks: the sparse file's two count as such.
	if reported < size || reported > size+2*64<<10 {
		t.Errorf("progress reported %d bytes, want about %d", reported, size)
	}
	if _, err := os.Lstat(filepath.Join(dst, "etc/abs-out")); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(dst, func(string, fs.DirEntry, error) error { n++; return nil })
	if n != len(rels) {
		t.Errorf("the copy has %d paths, the source %d", n, len(rels))
	}
}

func TestCopyNotEmpty(t *testing.T) {
	testroot.Require(t)
	src, dst := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dst, "f"), []byte("y"), 0o644)
	err := Copy(context.Background(), src, dst, nil)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), filepath.Join(src, "f")) {
		t.Fatalf("got %v, want EEXIST naming %s", err, filepath.Join(src, "f"))
	}
}

func TestCopyENOSPC(t *testing.T) {
	testroot.Require(t)
	src, dst := t.TempDir(), t.TempDir()
	if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "size=64k"); err != nil {
		testroot.Missing(t, "mount tmpfs: %v", err)
	}
	defer unix.Unmount(dst, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("x"), 1<<20), 0o644)
	err := Copy(context.Background(), src, dst, nil)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), filepath.Join(src, "big")) {
		t.Fatalf("got %v, want ENOSPC naming %s", err, filepath.Join(src, "big"))
	}
}

func TestCopyCancel(t *testing.T) {
	src := t.TempDir()
	for i := range 100 {
		os.WriteFile(filepath.Join(src, fmt.Sprint(i)), []byte("x"), 0o644)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Copy(ctx, src, t.TempDir(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestProgressFromCaller(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), bytes.Repeat([]byte("x"), 1000), 0o644)
	calls := 0
	start := time.Now()
	err := Copy(context.Background(), src, t.TempDir(), func(n int64) {
		calls++ // unsynchronized: the race detector checks the promise
		if n != 1000 {
			t.Errorf("progress %d, want 1000", n)
		}
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls", err, calls)
	}
	if d := time.Since(start); d > progressEvery {
		t.Errorf("a small copy took %v: did Copy wait for a tick?", d)
	}
}
