package containers

import (
	"os"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
)

func TestStateCacheFollowsTheDirectory(t *testing.T) {
	cfg := config.Default()
	cfg.Datadir = t.TempDir()
	e := New(cfg)
	dir := e.layout.StateDir()
	os.MkdirAll(dir, 0o700)
	write := func(rootfs string) {
		if err := state.Write(e.layout.StateFile("c1"), state.Container{Name: "c1", Created: time.Now(), Spec: spec.Spec{Root: spec.Root{Rootfs: rootfs}}}); err != nil {
			t.Fatal(err)
		}
	}
	rootfsOf := func() string {
		st, err := e.states()
		if err != nil || len(st) != 1 {
			t.Fatalf("states = %v, %v", st, err)
		}
		return st[0].c.Spec.Rootfs
	}
	write("one")
	// A directory changed just now is read afresh every time.
	if got := rootfsOf(); got != "one" {
		t.Fatalf("got %q", got)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(dir, old, old)
	if got := rootfsOf(); got != "one" {
		t.Fatalf("got %q", got)
	}
	// An in-place edit does not move the directory's mtime: the cache
	// answers, which shows it is used.
	data, _ := os.ReadFile(e.layout.StateFile("c1"))
	os.WriteFile(e.layout.StateFile("c1"), []byte(string(data)+"ROOTFS=edited\n"), 0o600)
	os.Chtimes(dir, old, old)
	if got := rootfsOf(); got != "one" {
		t.Errorf("cached read gave %q, want the cached one", got)
	}
	// A real change (an atomic rewrite) moves the mtime and is seen.
	write("two")
	if got := rootfsOf(); got != "two" {
		t.Errorf("after a rewrite got %q, want two", got)
	}
}
