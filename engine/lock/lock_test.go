package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "locks", "containers", "a.lock")
	l, err := Exclusive(p, "container \"a\"")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts just as another process would.
	_, err = Exclusive(p, "container \"a\"")
	if !errors.Is(err, errdefs.ErrLocked) {
		t.Fatalf("second Exclusive = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	l.Unlock()
	l2, err := Exclusive(p, "container \"a\"")
	if err != nil {
		t.Fatalf("Exclusive after Unlock = %v", err)
	}
	l2.Unlock()
	l2.Unlock() // idempotent
}
