package containers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/internal/testroot"
)

// The paths of a name that is not one are the directories of every
// container: removeFiles must refuse it, not delete them.
func TestRemoveFilesRefusesWhatIsNotAName(t *testing.T) {
	cfg := config.Default()
	cfg.Datadir = t.TempDir()
	e := New(cfg)
	other := filepath.Join(e.layout.Upper("other"), "file")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "..", "a/../.."} {
		if err := e.removeFiles(name); !errors.Is(err, errdefs.ErrInvalidName) {
			t.Errorf("removeFiles(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another container's file: %v", err)
	}
}

// A pod that does not exist is refused before anything is made, naming
// it (and before systemd is asked anything).
func TestCreateRefusesAnUnknownPod(t *testing.T) {
	testroot.Require(t)
	cfg := config.Default()
	cfg.Datadir = t.TempDir()
	e := New(cfg)
	_, err := e.Create(context.Background(), CreateOptions{Name: "x", Spec: spec.Spec{Pod: "nopod"}})
	var obj *errdefs.Error
	if !errors.As(err, &obj) || obj.Kind != errdefs.Pod || !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `pod "nopod"`) {
		t.Fatalf("Create = %v; want pod \"nopod\" not found", err)
	}
	if _, err := os.Stat(e.layout.StateFile("x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file: %v", err)
	}
	if _, err := e.Create(context.Background(), CreateOptions{Name: "x", Spec: spec.Spec{Pod: "../p"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Create with pod ../p = %v, want invalid", err)
	}
}
