package containers

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/errdefs"
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
