package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "locks", "containers", "a.lock")
	l, err := Exclusive(p, "container \"a\"", 0)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts just as another process would.
	_, err = Exclusive(p, "container \"a\"", 0)
	if !errors.Is(err, errdefs.ErrLocked) {
		t.Fatalf("second Exclusive = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	l.Unlock()
	l2, err := Exclusive(p, "container \"a\"", 0)
	if err != nil {
		t.Fatalf("Exclusive after Unlock = %v", err)
	}
	l2.Unlock()
	l2.Unlock() // idempotent
}

func TestWait(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.lock")
	l, err := Exclusive(p, "rootfs \"a\"", 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		l.Unlock()
	}()
	start := time.Now()
	s, err := Shared(p, "rootfs \"a\"", 5*time.Second)
	if err != nil {
		t.Fatalf("Shared while a brief holder lets go: %v", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("Shared did not wait for the holder")
	}
	s.Unlock()
	l, _ = Exclusive(p, "rootfs \"a\"", 0)
	defer l.Unlock()
	if _, err := Shared(p, "rootfs \"a\"", 100*time.Millisecond); !errors.Is(err, errdefs.ErrLocked) {
		t.Errorf("Shared past the wait: %v, want ErrLocked", err)
	}
}
