package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
)

func importTree(t *testing.T, s Store, name string, force bool) (Info, error) {
	t.Helper()
	txn, err := s.Begin(name, force)
	if err != nil {
		return Info{}, err
	}
	defer txn.Abort()
	if err := os.WriteFile(filepath.Join(txn.Root(), "file"), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Work(), "scratch"), nil, 0o600)
	return txn.Commit(Info{Source: "/src/" + name, Kind: "directory", Distro: "Test\nOS"})
}

func TestImportCommitAndList(t *testing.T) {
	s := New(t.TempDir())
	info, err := importTree(t, s, "one", false)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "one" || info.Size <= 0 || time.Since(info.Created) > time.Minute {
		t.Errorf("commit returned %+v", info)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	got := list[0]
	if got.Source != "/src/one" || got.Kind != "directory" || got.Distro != "Test OS" || got.Containers == nil {
		t.Errorf("List()[0] = %+v", got)
	}
	ents, _ := os.ReadDir(s.layout.FsDir())
	if len(ents) != 2 { // one/ and .one.meta: no staging left
		t.Errorf("store holds %v", ents)
	}
	if _, err := importTree(t, s, "one", false); !errors.Is(err, errdefs.ErrExists) {
		t.Errorf("second import without force: %v", err)
	}
	if _, err := importTree(t, s, "one", true); err != nil {
		t.Errorf("import with force: %v", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	s := New(t.TempDir())
	txn, err := s.Begin("gone", false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Root(), "f"), nil, 0o644)
	txn.Abort()
	txn.Abort() // twice is fine
	if ents, _ := os.ReadDir(s.layout.FsDir()); len(ents) != 0 {
		t.Errorf("abort left %v", ents)
	}
	// The name is free again in this process too: the varlink service
	// lives on after a failed import.
	again, err := s.Begin("gone", false)
	if err != nil {
		t.Fatalf("Begin after Abort: %v", err)
	}
	again.Abort()
}

func TestConcurrentImportIsLocked(t *testing.T) {
	s := New(t.TempDir())
	txn, err := s.Begin("busy", false)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	// flock is per open file description, so a second Begin in this
	// process sees the lock as another process would.
	if _, err := s.Begin("busy", false); !errors.Is(err, errdefs.ErrLocked) {
		t.Errorf("second Begin: %v, want ErrLocked", err)
	}
	if _, err := s.Use("busy"); !errors.Is(err, errdefs.ErrLocked) {
		t.Errorf("Use during import: %v, want ErrLocked", err)
	}
}

func TestGCRemovesDeadStaging(t *testing.T) {
	s := New(t.TempDir())
	if _, err := importTree(t, s, "kept", false); err != nil {
		t.Fatal(err)
	}
	dead := s.layout.Staging("dead", "import", 999999)
	os.MkdirAll(filepath.Join(dead, "rootfs/etc"), 0o755)
	os.WriteFile(s.layout.RootfsMeta("orphan"), []byte("DISTRO=x\n"), 0o644)
	trash := s.layout.Staging("kept", "remove", 999998)
	os.MkdirAll(trash, 0o755)
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dead, trash, s.layout.RootfsMeta("orphan")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("GC left %s", p)
		}
	}
	if _, err := s.Get("kept"); err != nil {
		t.Errorf("GC removed a live rootfs: %v", err)
	}
}

func TestRemoveRefusesWhileUsed(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	if _, err := importTree(t, s, "base", false); err != nil {
		t.Fatal(err)
	}
	l := layout.Layout{Datadir: dir}
	os.MkdirAll(l.StateDir(), 0o700)
	if err := state.Write(l.StateFile("web"), state.Container{Name: "web", Created: time.Now(), Spec: spec.Spec{Root: spec.Root{Rootfs: "base"}}}); err != nil {
		t.Fatal(err)
	}
	err := s.Remove("base")
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "web") {
		t.Errorf("Remove of a used rootfs: %v", err)
	}
	if _, err := importTree(t, s, "base", true); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("forced import over a used rootfs: %v", err)
	}
	os.Remove(l.StateFile("web"))
	if err := s.Remove("base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("base"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if err := s.Remove("base"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	if err := s.Remove("../etc"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Remove of a bad name: %v", err)
	}
}
