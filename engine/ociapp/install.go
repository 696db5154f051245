package ociapp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
)

// Install turns the unpacked image at tree into an application rootfs:
// the image's files move to /oci/root (a rename, nothing is copied), and
// the unit, its enablement, the environment and the record are written
// beside them. scratch is an empty directory on the same filesystem.
func Install(tree, scratch string, a App) error {
	moved := filepath.Join(scratch, "app")
	if err := os.Rename(tree, moved); err != nil {
		return err
	}
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(tree, Dir), 0o755); err != nil {
		return err
	}
	root := filepath.Join(tree, Root)
	if err := os.Rename(moved, root); err != nil {
		return err
	}
	// The image's root directory may come with any mode; the service's
	// root must be usable by its user.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	// Mount points for the API file systems and the helper, and the
	// scratch directory applications expect. Each is made only where the
	// image has nothing of that name, and only at the top: mkdir does not
	// follow a symlink it would replace, but it would follow one on the
	// way (an image's var -> /etc would make var/tmp the host's /etc/tmp).
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755}, {"tmp", 0o777 | os.ModeSticky}} {
		p := filepath.Join(root, d.name)
		if err := os.Mkdir(p, d.mode); err == nil {
			if err := os.Chmod(p, d.mode); err != nil {
				return err
			}
		} else if !os.IsExist(err) {
			return err
		}
	}
	unit, err := a.Unit()
	if err != nil {
		return err
	}
	record, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	units := filepath.Join(tree, "etc/systemd/system")
	wants := filepath.Join(units, "multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{filepath.Join(units, Unit), []byte(unit), 0o644},
		{filepath.Join(tree, EnvFile), EnvFileContent(a.Env), 0o644},
		{filepath.Join(tree, RecordFile), append(record, '\n'), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return os.Symlink("../"+Unit, filepath.Join(wants, Unit))
}

// maxRecord bounds an application's record; an image's config is bounded
// by the import, and the record holds less than it.
const maxRecord = 8 << 20

// Read reads the record of the application rootfs at dir.
func Read(dir string) (App, error) {
	data, err := intree.ReadFile(dir, strings.TrimPrefix(RecordFile, "/"), maxRecord)
	if err != nil {
		return App{}, err
	}
	var a App
	if err := json.Unmarshal(data, &a); err != nil {
		return App{}, fmt.Errorf("the application record %s: %w: %w", RecordFile, err, errdefs.ErrCorrupt)
	}
	return a, nil
}
