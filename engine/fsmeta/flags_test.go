package fsmeta

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/internal/testroot"
)

func TestUnpin(t *testing.T) {
	testroot.Require(t) // chattr +i
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	file := filepath.Join(sub, "pinned")
	os.Mkdir(sub, 0o755)
	os.WriteFile(file, []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "appendonly"), []byte("x"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	// Each flag is set where the filesystem allows it; tmpfs, for one, has
	// immutable but not append-only.
	set := func(p string, flag int) bool {
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		old, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		return err == nil && unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(old)|flag) == nil
	}
	set(filepath.Join(dir, "appendonly"), appendFlag)
	if !set(file, immutableFlag) {
		testroot.Missing(t, "this filesystem has no immutable flag")
	}
	set(sub, immutableFlag)
	if err := os.RemoveAll(dir); err == nil {
		t.Fatal("RemoveAll deleted an immutable tree; the test proves nothing")
	}
	if err := Unpin(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("RemoveAll after Unpin: %v", err)
	}
}
