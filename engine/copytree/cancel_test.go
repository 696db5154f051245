package copytree

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// A large file is copied in chunks, each after a look at the context: a
// stop (Ctrl-C, a disk running low) must not wait for the file's end.
func TestCopyContentStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := unix.Open(src, unix.O_RDONLY, 0)
	defer unix.Close(s)
	d, _ := unix.Open(filepath.Join(dir, "dst"), unix.O_WRONLY|unix.O_CREAT, 0o644)
	defer unix.Close(d)
	var st unix.Stat_t
	unix.Fstat(s, &st)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var copied atomic.Int64
	if err := copyContent(ctx, s, d, &st, &copied); !errors.Is(err, context.Canceled) || copied.Load() != 0 {
		t.Errorf("copyContent after cancel = %v with %d bytes copied", err, copied.Load())
	}
}
