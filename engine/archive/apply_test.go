package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"
	"golang.org/x/sys/unix"
)

// capNetRaw is a security.capability value (VFS_CAP_REVISION_2, effective)
// granting cap_net_raw, as setcap cap_net_raw+ep writes it.
var capNetRaw = string([]byte{
	0x01, 0x00, 0x00, 0x02,
	0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
})

func TestRoundTrip(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	atime := time.Unix(1600000000, 987654321)
	mtime := time.Unix(1650000000, 111222333)

	rootEnt := dir("./")
	rootEnt.Mode = 0o750
	rootEnt.ModTime = mtime
	d := dir("usr/")
	d.Uid, d.Gid, d.Mode = 10, 20, 0o2775
	d.PAXRecords = map[string]string{"SCHILY.xattr.trusted.overlay.opaque": "y"}
	tmp := dir("tmp")
	tmp.Mode = 0o1777
	ping := file("usr/ping", "ELF\x00binary")
	ping.Uid, ping.Gid, ping.Mode = 1000, 2000, 0o4755
	ping.AccessTime, ping.ModTime = atime, mtime
	ping.PAXRecords = map[string]string{
		"SCHILY.xattr.security.capability": capNetRaw,
		"SCHILY.xattr.user.comment":        "hi",
		"SCHILY.xattr.security.selinux":    "system_u:object_r:ping_exec_t:s0",
	}
	link := symlink("usr/ping6", "ping")
	link.Uid, link.Gid = 7, 8
	link.ModTime = mtime
	link.PAXRecords = map[string]string{"SCHILY.xattr.trusted.note": "link"}
	null := mk(tar.TypeChar, "dev/null", 0o666)
	null.Devmajor, null.Devminor = 1, 3
	loop := mk(tar.TypeBlock, "dev/loop0", 0o660)
	loop.Devmajor, loop.Devminor, loop.Gid = 7, 0, 6
	fifo := mk(tar.TypeFifo, "run/initctl", 0o600)
	fifo.PAXRecords = map[string]string{"SCHILY.xattr.trusted.fifo": "f"}
	usrDirTime := d
	usrDirTime.ModTime = mtime // times are checked after contents change the directory

	err := apply(t, target, Options{},
		rootEnt, usrDirTime, tmp, ping, link, hardlink("usr/ping-hard", "usr/ping"), null, loop, fifo,
		file("deep/a/b/c", "implicit parents"))
	if err != nil {
		t.Fatal(err)
	}

	check := func(rel string, typ fs.FileMode, perm fs.FileMode, uid, gid uint32) *syscall.Stat_t {
		t.Helper()
		st, err := os.Lstat(filepath.Join(target, rel))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Type() != typ {
			t.Errorf("%s: type %v, want %v", rel, st.Mode().Type(), typ)
		}
		if typ != fs.ModeSymlink && st.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != perm {
			t.Errorf("%s: mode %v, want %v", rel, st.Mode(), perm)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != uid || sys.Gid != gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, sys.Uid, sys.Gid, uid, gid)
		}
		return sys
	}
	xattr := func(rel, name, want string) {
		t.Helper()
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(target, rel), name, buf)
		if want == "" {
			if err != unix.ENODATA {
				t.Errorf("%s: xattr %s = %q, %v; want none", rel, name, buf[:max(n, 0)], err)
			}
			return
		}
		if err != nil || string(buf[:n]) != want {
			t.Errorf("%s: xattr %s = %q, %v; want %q", rel, name, buf[:max(n, 0)], err, want)
		}
	}
	times := func(sys *syscall.Stat_t, rel string, at, mt time.Time) {
		t.Helper()
		if got := time.Unix(sys.Mtim.Unix()); !got.Equal(mt) {
			t.Errorf("%s: mtime %v, want %v", rel, got, mt)
		}
		if got := time.Unix(sys.Atim.Unix()); !got.Equal(at) {
			t.Errorf("%s: atime %v, want %v", rel, got, at)
		}
	}

	root := check(".", fs.ModeDir, 0o750, 0, 0)
	times(root, ".", mtime, mtime)
	usr := check("usr", fs.ModeDir, 0o775|fs.ModeSetgid, 10, 20)
	times(usr, "usr", mtime, mtime)
	xattr("usr", "trusted.overlay.opaque", "y")
	check("tmp", fs.ModeDir, 0o777|fs.ModeSticky, 0, 0)

	p := check("usr/ping", 0, 0o755|fs.ModeSetuid, 1000, 2000)
	times(p, "usr/ping", atime, mtime)
	if p.Nlink != 2 {
		t.Errorf("usr/ping: %d links, want 2", p.Nlink)
	}
	xattr("usr/ping", "security.capability", capNetRaw)
	xattr("usr/ping", "user.comment", "hi")
	xattr("usr/ping", "security.selinux", "")
	if b, _ := os.ReadFile(filepath.Join(target, "usr/ping")); string(b) != "ELF\x00binary" {
		t.Errorf("usr/ping: content %q", b)
	}
	if h := check("usr/ping-hard", 0, 0o755|fs.ModeSetuid, 1000, 2000); h.Ino != p.Ino {
		t.Errorf("usr/ping-hard is not a hard link of usr/ping")
	}

	l := check("usr/ping6", fs.ModeSymlink, 0, 7, 8)
	times(l, "usr/ping6", mtime, mtime)
	if got, _ := os.Readlink(filepath.Join(target, "usr/ping6")); got != "ping" {
		t.Errorf("usr/ping6 -> %q", got)
	}
	xattr("usr/ping6", "trusted.note", "link")

	n := check("dev/null", fs.ModeDevice|fs.ModeCharDevice, 0o666, 0, 0)
	if unix.Major(n.Rdev) != 1 || unix.Minor(n.Rdev) != 3 {
		t.Errorf("dev/null: device %d:%d", unix.Major(n.Rdev), unix.Minor(n.Rdev))
	}
	b := check("dev/loop0", fs.ModeDevice, 0o660, 0, 6)
	if unix.Major(b.Rdev) != 7 || unix.Minor(b.Rdev) != 0 {
		t.Errorf("dev/loop0: device %d:%d", unix.Major(b.Rdev), unix.Minor(b.Rdev))
	}
	check("run/initctl", fs.ModeNamedPipe, 0o600, 0, 0)
	xattr("run/initctl", "trusted.fifo", "f")
	check("dev", fs.ModeDir, 0o755, 0, 0)
	check("deep/a/b", fs.ModeDir, 0o755, 0, 0)
}

func TestApplyTwiceIsStable(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	ents := []ent{dir("a"), file("a/f", "x"), symlink("a/l", "f"), hardlink("a/h", "a/f")}
	for i := range 2 {
		if err := apply(t, target, Options{}, ents...); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
	st, err := os.Stat(filepath.Join(target, "a/h"))
	if err != nil || st.Sys().(*syscall.Stat_t).Nlink != 2 {
		t.Fatalf("a/h: %v", err)
	}
}

func TestReplace(t *testing.T) {
	testroot.Require(t)
	tests := []struct {
		name  string
		lower []ent
		upper []ent
		check func(t *testing.T, target string)
	}{{
		name:  "file over file",
		lower: []ent{file("f", "old")},
		upper: []ent{file("f", "new")},
		check: content("f", "new"),
	}, {
		name:  "directory over directory keeps its entries",
		lower: []ent{dir("d"), file("d/old", "x")},
		upper: []ent{withMode(dir("d"), 0o700), file("d/new", "y")},
		check: all(content("d/old", "x"), content("d/new", "y"), mode("d", fs.ModeDir|0o700)),
	}, {
		name:  "file over directory",
		lower: []ent{dir("d"), dir("d/sub"), file("d/sub/x", "x")},
		upper: []ent{file("d", "now a file")},
		check: content("d", "now a file"),
	}, {
		name:  "directory over file",
		lower: []ent{file("d", "file")},
		upper: []ent{dir("d"), file("d/x", "x")},
		check: content("d/x", "x"),
	}, {
		name:  "symlink over directory",
		lower: []ent{dir("d"), file("d/x", "x")},
		upper: []ent{symlink("d", "elsewhere")},
		check: linkTo("d", "elsewhere"),
	}, {
		name:  "directory over symlink",
		lower: []ent{dir("real"), symlink("d", "real")},
		upper: []ent{dir("d"), file("d/x", "x")},
		check: all(content("d/x", "x"), mode("d", fs.ModeDir|0o755), absent("real/x")),
	}, {
		name:  "hard link over file",
		lower: []ent{file("a", "a"), file("b", "b")},
		upper: []ent{hardlink("b", "a")},
		check: content("b", "a"),
	}, {
		name:  "device over file",
		lower: []ent{file("p", "x")},
		upper: []ent{mk(tar.TypeFifo, "p", 0o644)},
		check: mode("p", fs.ModeNamedPipe|0o644),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := t.TempDir()
			if err := apply(t, target, Options{}, tt.lower...); err != nil {
				t.Fatal(err)
			}
			if err := apply(t, target, Options{}, tt.upper...); err != nil {
				t.Fatal(err)
			}
			tt.check(t, target)
		})
	}
}

func TestWhiteouts(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	lower := []ent{
		dir("a"), file("a/gone", "x"), file("a/kept", "x"),
		dir("d"), dir("d/sub"), file("d/sub/x", "x"),
		dir("o"), file("o/old", "x"), dir("o/keep"), file("o/keep/old", "x"), symlink("o/oldlink", "/etc"),
		dir("same"),
	}
	upper := []ent{
		file("a/.wh.gone", ""),
		file(".wh.d", ""),
		file("a/.wh.never-was", ""),
		file("o/new-before", "x"),
		file("o/keep/new", "x"),
		file("o/.wh..wh..opq", ""),
		file("o/new-after", "x"),
		file("same/x", "x"),
		file("same/.wh.x", ""), // a whiteout hides the lower layers only
		file("fresh/.wh..wh..opq", ""),
	}
	if err := apply(t, target, Options{Whiteouts: true}, lower...); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, target, Options{Whiteouts: true}, upper...); err != nil {
		t.Fatal(err)
	}
	all(
		absent("a/gone"), content("a/kept", "x"), absent("d"),
		absent("o/old"), absent("o/oldlink"), absent("o/keep/old"),
		content("o/new-before", "x"), content("o/new-after", "x"), content("o/keep/new", "x"),
		content("same/x", "x"),
	)(t, target)
	filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), whiteoutPrefix) {
			t.Errorf("whiteout file created: %s", p)
		}
		return nil
	})

	// Without the option, whiteouts are plain files.
	plain := t.TempDir()
	if err := apply(t, plain, Options{}, file("a", "x"), file(".wh.a", "")); err != nil {
		t.Fatal(err)
	}
	all(content("a", "x"), content(".wh.a", ""))(t, plain)
}

type escapeTest struct {
	name      string
	ents      func(parent string) []ent
	whiteouts bool
	refused   bool // with ErrCorrupt; or else contained, and check passes
	check     func(t *testing.T, target string)
}

// escapeTests are hostile archives. Each is refused with ErrCorrupt, or
// contained: symlinks are resolved inside the target. The fuzz target
// starts from them too.
func escapeTests(tmpName string) []escapeTest {
	return []escapeTest{
		{name: "dot-dot", ents: ents(file("../sentinel/file", "evil")), refused: true},
		{name: "dot-dot in the middle", ents: ents(file("a/../../sentinel/evil", "evil")), refused: true},
		{name: "absolute dot-dot", ents: ents(file("/../../sentinel/evil", "evil")), refused: true},
		{name: "absolute path is relative", ents: ents(file("/abs", "x")), check: content("abs", "x")},
		{name: "dot-dot that stays inside", ents: ents(file("a/../b", "x")), check: content("b", "x")},
		{name: "directory dot-dot", ents: ents(dir("..")), refused: true},
		{name: "symlink to /tmp, file through it", ents: ents(symlink("l", "/tmp"), file("l/"+filepath.Base(tmpName), "evil")), refused: true},
		{
			name:  "symlink to /, file through it",
			ents:  ents(symlink("l", "/"), file("l/tmp/"+filepath.Base(tmpName), "evil")),
			check: content("tmp/"+filepath.Base(tmpName), "evil"),
		},
		{
			name: "absolute symlink to the sentinel, file through it",
			ents: func(parent string) []ent {
				return []ent{symlink("l", filepath.Join(parent, "sentinel")), file("l/file", "evil")}
			},
			refused: true,
		},
		{
			name: "absolute symlink to the sentinel, with the same path inside",
			ents: func(parent string) []ent {
				return []ent{symlink("l", filepath.Join(parent, "sentinel")), dir(filepath.Join(parent, "sentinel")), file("l/file", "contained")}
			},
			check: func(t *testing.T, target string) {
				content(strings.TrimPrefix(filepath.Join(filepath.Dir(target), "sentinel/file"), "/"), "contained")(t, target)
			},
		},
		{name: "relative symlink out, file through it", ents: ents(symlink("l", "../sentinel"), file("l/file", "evil")), refused: true},
		{name: "relative symlink out, directory through it", ents: ents(symlink("l", "../sentinel"), dir("l/sub/new")), refused: true},
		{
			name:    "symlink chain",
			ents:    ents(dir("x"), symlink("x/up", "../../.."), symlink("a", "x/up/sentinel"), file("a/file", "evil")),
			refused: true,
		},
		{
			name:  "symlink chain, contained",
			ents:  ents(dir("x"), dir("sentinel"), symlink("x/up", "../../.."), symlink("a", "x/up/sentinel"), file("a/file", "inside")),
			check: content("sentinel/file", "inside"),
		},
		{name: "symlink loop", ents: ents(symlink("a", "b"), symlink("b", "a"), file("a/x", "evil")), refused: true},
		{
			name:  "file replaces a symlink, not written through it",
			ents:  ents(symlink("f", "../sentinel/file"), file("f", "replaced")),
			check: content("f", "replaced"),
		},
		{
			name: "absolute symlink replaced by a file",
			ents: func(parent string) []ent {
				return []ent{symlink("f", filepath.Join(parent, "sentinel/file")), file("f", "replaced")}
			},
			check: content("f", "replaced"),
		},
		{
			name:  "directory replaces a symlink, not made through it",
			ents:  ents(symlink("d", "../sentinel/sub"), dir("d"), file("d/x", "x")),
			check: content("d/x", "x"),
		},
		{name: "hard link to dot-dot", ents: ents(hardlink("h", "../sentinel/file")), refused: true},
		{name: "hard link to an absolute host path", ents: ents(hardlink("h", "/etc/passwd")), refused: true},
		{
			name: "hard link through an absolute symlink",
			ents: func(parent string) []ent {
				return []ent{symlink("l", filepath.Join(parent, "sentinel")), hardlink("h", "l/file")}
			},
			refused: true,
		},
		{name: "hard link through a relative symlink", ents: ents(symlink("l", "../sentinel"), hardlink("h", "l/file")), refused: true},
		{
			name:  "hard link to a symlink links the symlink",
			ents:  ents(symlink("s", "../sentinel/file"), hardlink("h", "s"), file("h", "replaced")),
			check: all(linkTo("s", "../sentinel/file"), content("h", "replaced")),
		},
		{name: "hard link to the root", ents: ents(hardlink("h", "./")), refused: true},
		{name: "fifo at the root", ents: ents(mk(tar.TypeFifo, ".", 0o644)), refused: true},

		{name: "whiteout dot-dot", whiteouts: true, ents: ents(file("../.wh.sentinel", "")), refused: true},
		{name: "whiteout climbing in the middle", whiteouts: true, ents: ents(file("a/../../sentinel/.wh.file", "")), refused: true},
		{name: "whiteout of dot-dot", whiteouts: true, ents: ents(dir("a"), file("a/.wh...", "")), refused: true},
		{name: "whiteout of dot", whiteouts: true, ents: ents(file(".wh..", "")), refused: true},
		{name: "whiteout through a relative symlink", whiteouts: true, ents: ents(symlink("l", "../sentinel"), file("l/.wh.file", ""))},
		{
			name:      "whiteout through an absolute symlink",
			whiteouts: true,
			ents: func(parent string) []ent {
				return []ent{symlink("l", filepath.Join(parent, "sentinel")), file("l/.wh.file", "")}
			},
		},
		{name: "whiteout through a symlink up", whiteouts: true, ents: ents(symlink("l", ".."), file("l/.wh.sentinel", ""))},
		{name: "opaque dot-dot", whiteouts: true, ents: ents(file("../.wh..wh..opq", "")), refused: true},
		{name: "opaque climbing in the middle", whiteouts: true, ents: ents(file("a/../../sentinel/.wh..wh..opq", "")), refused: true},
		{name: "opaque through a relative symlink", whiteouts: true, ents: ents(symlink("l", "../sentinel"), file("l/.wh..wh..opq", ""))},
		{name: "opaque through a symlink up", whiteouts: true, ents: ents(symlink("l", ".."), file("l/.wh..wh..opq", ""))},
	}
}

// TestEscapes applies each hostile archive into parent/target and checks
// that nothing under parent outside target changed, nor in /tmp.
func TestEscapes(t *testing.T) {
	testroot.Require(t)
	tmpName := filepath.Join(os.TempDir(), "sdme-archive-escape-test")
	os.Remove(tmpName)
	defer os.Remove(tmpName)
	for _, tt := range escapeTests(tmpName) {
		t.Run(tt.name, func(t *testing.T) {
			parent, target := sandbox(t)
			before := snapshot(t, parent, target)
			err := apply(t, target, Options{Whiteouts: tt.whiteouts}, tt.ents(parent)...)
			switch {
			case tt.refused && !errors.Is(err, errdefs.ErrCorrupt):
				t.Errorf("got %v, want an error wrapping ErrCorrupt", err)
			case tt.refused && !strings.Contains(err.Error(), "archive entry"):
				t.Errorf("error %q does not name the entry", err)
			case !tt.refused && err != nil:
				t.Errorf("got %v, want the entries contained", err)
			}
			sameSnapshot(t, before, snapshot(t, parent, target))
			if _, err := os.Lstat(tmpName); err == nil {
				t.Errorf("%s created", tmpName)
			}
			if tt.check != nil && err == nil {
				tt.check(t, target)
			}
		})
	}
}

func TestHardLinkMissingTarget(t *testing.T) {
	testroot.Require(t)
	err := apply(t, t.TempDir(), Options{}, hardlink("usr/bin/h", "usr/bin/missing"))
	if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), `"usr/bin/h"`) || !strings.Contains(err.Error(), `"usr/bin/missing"`) {
		t.Fatalf("got %v, want ErrCorrupt naming both paths", err)
	}
}

func TestCorruptStream(t *testing.T) {
	testroot.Require(t)
	whole := tarball(t, dir("a"), file("a/big", strings.Repeat("x", 10000)), file("b", "y"))
	big := bytes.Index(whole, []byte("xxxx"))
	badsum := bytes.Clone(whole)
	badsum[150] ^= 0xff // inside the first header's checksum field
	for name, data := range map[string][]byte{
		"cut in the first header": whole[:100],
		"cut in a file":           whole[:big+5000],
		"cut in a later header":   whole[:big+10240+100],
		"garbage":                 bytes.Repeat([]byte("garbage!"), 128),
		"checksum":                badsum,
	} {
		t.Run(name, func(t *testing.T) {
			err := Apply(context.Background(), t.TempDir(), bytes.NewReader(data), Options{})
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestENOSPC(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=64k"); err != nil {
		testroot.Missing(t, "mount tmpfs: %v", err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	big := bytes.Repeat([]byte("not zeros"), 100000)
	err := apply(t, target, Options{}, file("big", string(big)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	if errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("disk full reported as corrupt: %v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Apply(ctx, t.TempDir(), bytes.NewReader(tarball(t, file("a", "x"))), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestHoles(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	body := strings.Repeat("\x00", 8<<20) + "end" + strings.Repeat("\x00", 2<<20)
	if err := apply(t, target, Options{}, file("sparse", body)); err != nil {
		t.Fatal(err)
	}
	content("sparse", body)(t, target)
	st, _ := os.Stat(filepath.Join(target, "sparse"))
	if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > 2<<20 {
		t.Errorf("sparse: %d bytes allocated for %d with holes", used, st.Size())
	}
}

// gnuSparse is tar --format=gnu --sparse of a file "sparse": "start", a
// hole, and "end" at 4 MiB; gzipped, as it is mostly zeros.
const gnuSparse = "H4sICC6FCmsCA3MudGFyAO3QzQmAMAyG4YzSEdoadRAnEPQqYnV/aw/+gjcV5H0gpARC6Bf6egitPMpGhWrq0am7WJk4zb2WpdVl7gr1KqaSF0xhrAdj5DN2s0skvf0psZTUNs8Ou3cH1oWL5fejAAAAAACAP2u7hhAAAAAAAAAA4IdmPEAn9gAoAAA="

func TestGNUSparse(t *testing.T) {
	testroot.Require(t)
	target := t.TempDir()
	gz, _ := base64.StdEncoding.DecodeString(gnuSparse)
	r, c, err := Decompress(bytes.NewReader(gz))
	if err != nil || c != Gzip {
		t.Fatalf("Decompress: %v, %v", c, err)
	}
	if err := Apply(context.Background(), target, r, Options{}); err != nil {
		t.Fatal(err)
	}
	content("sparse", "start"+strings.Repeat("\x00", 4<<20-5)+"end")(t, target)
	st, _ := os.Stat(filepath.Join(target, "sparse"))
	if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > 2<<20 {
		t.Errorf("sparse: %d bytes allocated for %d with holes", used, st.Size())
	}
}

func ents(es ...ent) func(string) []ent {
	return func(string) []ent { return es }
}

func withMode(e ent, m int64) ent {
	e.Mode = m
	return e
}

func all(checks ...func(*testing.T, string)) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		t.Helper()
		for _, c := range checks {
			c(t, target)
		}
	}
}

func content(rel, want string) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		t.Helper()
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(target, rel)
		}
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: not a regular file: %v", rel, err)
			return
		}
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s: content %.40q, want %.40q", rel, b, want)
		}
	}
}

func mode(rel string, want fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		t.Helper()
		st, err := os.Lstat(filepath.Join(target, rel))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", rel, st.Mode(), err, want)
		}
	}
}

func linkTo(rel, want string) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		t.Helper()
		if got, err := os.Readlink(filepath.Join(target, rel)); got != want {
			t.Errorf("%s -> %q (%v), want -> %q", rel, got, err, want)
		}
	}
}

func absent(rel string) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(target, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: exists (%v), want it absent", rel, err)
		}
	}
}
