package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sdme/sdme/engine/config"
)

// Everything an engine hands out works under the configuration it was
// opened with.
func TestOpenLoadsTheConfigurationOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sdmerc")
	datadir := filepath.Join(t.TempDir(), "data")
	if _, err := config.SetInFile(path, "datadir", datadir); err != nil {
		t.Fatal(err)
	}
	e, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// A later change of the file is the next engine's.
	if _, err := config.SetInFile(path, "datadir", "/var/lib/elsewhere"); err != nil {
		t.Fatal(err)
	}
	if got := e.Config().Datadir; got != datadir {
		t.Errorf("Config().Datadir = %s, want %s", got, datadir)
	}
	if os.Geteuid() != 0 {
		if _, err := e.Containers(); err == nil {
			t.Error("Containers() for a user other than root")
		}
		return
	}
	c, err := e.Containers()
	if err != nil {
		t.Fatal(err)
	}
	if c.Config() != e.Config() {
		t.Error("the containers have a configuration of their own")
	}
	s, err := e.Rootfs()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Path("x"), filepath.Join(datadir, "fs", "x"); got != want {
		t.Errorf("the store keeps rootfs x in %s, want %s", got, want)
	}
}
