package intree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"
)

// tree builds a hostile tree next to a secret outside it.
func tree(t *testing.T) (root, secret string) {
	t.Helper()
	base := t.TempDir()
	secret = filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("outside\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(base, "root")
	for _, d := range []string{"etc", "usr/lib", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"usr/lib/os-release": "ID=inside\n",
		"etc/big":            strings.Repeat("x", 100),
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"etc/os-release": "../usr/lib/os-release",
		"etc/abs":        "/usr/lib/os-release",
		"etc/escape":     "../../../../../../secret",
		"etc/absescape":  secret,
		"etc/zero":       "/dev/zero",
		"etc/proc":       "/proc/self/root/" + secret,
		"etc/loop":       "loop",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, secret
}

func TestReadFile(t *testing.T) {
	root, _ := tree(t)
	for _, c := range []struct {
		name string
		want string // content, or "" for an error
		is   error
	}{
		{"usr/lib/os-release", "ID=inside\n", nil},
		{"etc/os-release", "ID=inside\n", nil},
		{"etc/abs", "ID=inside\n", nil},
		{"/etc/abs", "ID=inside\n", nil},
		{"../../etc/abs", "ID=inside\n", nil},
		{"etc/escape", "", fs.ErrNotExist},    // the tree's /secret
		{"etc/absescape", "", fs.ErrNotExist}, // likewise
		{"etc/zero", "", fs.ErrNotExist},      // the tree's /dev/zero, missing
		{"etc/proc", "", nil},                 // a magic link, refused
		{"etc/loop", "", nil},
		{"etc/fifo", "", errdefs.ErrCorrupt},
		{"etc", "", errdefs.ErrCorrupt},
		{"etc/big", "", errdefs.ErrCorrupt}, // over the limit
		{"missing", "", fs.ErrNotExist},
	} {
		done := make(chan struct{})
		var data []byte
		var err error
		go func() { data, err = ReadFile(root, c.name, 64); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocks", c.name)
		}
		switch {
		case c.want != "" && (err != nil || string(data) != c.want):
			t.Errorf("ReadFile(%s) = %q, %v; want %q", c.name, data, err, c.want)
		case c.want == "" && err == nil:
			t.Errorf("ReadFile(%s) = %q, want an error", c.name, data)
		case c.want == "" && c.is != nil && !errors.Is(err, c.is):
			t.Errorf("ReadFile(%s) error %v, want %v", c.name, err, c.is)
		}
	}
}

func TestDeviceIsNeverOpened(t *testing.T) {
	testroot.Require(t) // mknod
	root, _ := tree(t)
	// A character device the tree made: opening it would reach the host's
	// driver (here /dev/zero's, which would also never end).
	if err := unix.Mknod(filepath.Join(root, "dev/zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		testroot.Missing(t, "mknod: %v", err)
	}
	_, err := ReadFile(root, "etc/zero", 1<<20)
	if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "character device") {
		t.Fatalf("ReadFile through a link to a device: %v", err)
	}
}

func TestStat(t *testing.T) {
	root, _ := tree(t)
	if fi, err := Stat(root, "etc/os-release"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("Stat(etc/os-release) = %v, %v", fi, err)
	}
	if fi, err := Stat(root, "etc/fifo"); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("Stat(etc/fifo) = %v, %v", fi, err)
	}
	if _, err := Stat(root, "etc/escape"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(etc/escape) = %v, want not found", err)
	}
}

func TestReadDirAndReadlink(t *testing.T) {
	root, _ := tree(t)
	ents, err := ReadDir(root, "/usr/../etc")
	if err != nil || len(ents) == 0 {
		t.Fatalf("ReadDir(etc) = %v, %v", ents, err)
	}
	if _, err := ReadDir(root, "etc/fifo"); err == nil {
		t.Error("ReadDir of a FIFO succeeded")
	}
	os.Symlink("/../../..", filepath.Join(root, "up"))
	if ents, err := ReadDir(root, "up"); err != nil || len(ents) != 4 { // the tree's own /: dev, etc, up, usr
		t.Errorf("ReadDir through a link up = %v, %v; want the tree's root", ents, err)
	}
	if got, err := Readlink(root, "etc/abs"); err != nil || got != "/usr/lib/os-release" {
		t.Errorf("Readlink(etc/abs) = %q, %v", got, err)
	}
	if _, err := Readlink(root, "etc/big"); err == nil {
		t.Error("Readlink of a regular file succeeded")
	}
}

// A host path that a user can change may lead to a FIFO by the time it is
// opened; the open must fail at once, not wait for a writer.
func TestOpenFileRefusesAFIFO(t *testing.T) {
	root, _ := tree(t)
	done := make(chan error, 1)
	go func() { _, err := OpenFile(filepath.Join(root, "etc/fifo")); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errdefs.ErrUnsupported) {
			t.Fatalf("OpenFile of a FIFO = %v, want ErrUnsupported", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenFile blocked on a FIFO")
	}
	if f, err := OpenFile(filepath.Join(root, "usr/lib/os-release")); err != nil {
		t.Errorf("OpenFile of a regular file: %v", err)
	} else {
		f.Close()
	}
}
