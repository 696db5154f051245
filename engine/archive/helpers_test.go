package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ent is an archive entry for a test archive.
type ent struct {
	tar.Header
	body string
}

var epoch = time.Unix(1700000000, 123456789)

func mk(typ byte, name string, mode int64) ent {
	return ent{Header: tar.Header{Typeflag: typ, Name: name, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}}
}

func dir(name string) ent { return mk(tar.TypeDir, name, 0o755) }

func file(name, body string) ent {
	e := mk(tar.TypeReg, name, 0o644)
	e.body = body
	return e
}

func symlink(name, target string) ent {
	e := mk(tar.TypeSymlink, name, 0o777)
	e.Linkname = target
	return e
}

func hardlink(name, target string) ent {
	e := mk(tar.TypeLink, name, 0o644)
	e.Linkname = target
	return e
}

func tarball(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func apply(t testing.TB, dir string, opts Options, ents ...ent) error {
	t.Helper()
	return Apply(context.Background(), dir, bytes.NewReader(tarball(t, ents...)), opts)
}

// sandbox makes parent/target, where archives go, and parent/sentinel,
// which must never change, holding a file, a directory and a symlink.
func sandbox(t testing.TB) (parent, target string) {
	t.Helper()
	parent = t.TempDir()
	return parent, fillSandbox(t, parent)
}

func fillSandbox(t testing.TB, parent string) (target string) {
	t.Helper()
	target = filepath.Join(parent, "target")
	sentinel := filepath.Join(parent, "sentinel")
	for _, d := range []string{target, sentinel, filepath.Join(sentinel, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sentinel, "file"), []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(sentinel, "link")); err != nil {
		t.Fatal(err)
	}
	return target
}

// snapshot describes everything under parent except target: type, mode,
// owner, size, mtime, link target and content digest of each path.
func snapshot(t testing.TB, parent, target string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == target {
			return filepath.SkipDir
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		// Not the atime: reading for the snapshot moves it.
		desc := fmt.Sprintf("%v ino=%d nlink=%d own=%d:%d size=%d mtime=%v ctime=%v",
			st.Mode(), sys.Ino, sys.Nlink, sys.Uid, sys.Gid, st.Size(), sys.Mtim, sys.Ctim)
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case st.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		snap[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(t testing.TB, before, after map[string]string) {
	t.Helper()
	for p, d := range after {
		if before[p] != d {
			t.Errorf("outside the target: %s changed or appeared:\n  before %q\n  after  %q", p, before[p], d)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("outside the target: %s disappeared", p)
		}
	}
}
