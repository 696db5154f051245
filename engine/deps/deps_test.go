package deps

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mount"), []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", dir)
	paths, err := Find("mount")
	if err != nil || paths[0] != filepath.Join(dir, "mount") {
		t.Fatalf("Find(mount) = %v, %v", paths, err)
	}
	_, err = Find("mount", "systemd-nspawn", "machinectl", "journalctl")
	if !errors.Is(err, errdefs.ErrMissingProgram) {
		t.Fatalf("Find(missing) = %v, want ErrMissingProgram", err)
	}
	for _, want := range []string{"systemd-nspawn, machinectl, journalctl", "systemd-container", "apt-get install systemd systemd-container"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
