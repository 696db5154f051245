// Package datadir keeps sdme's data directory root's alone, as
// /var/lib/machines and /var/lib/docker are. It holds root filesystems
// with setuid-root binaries and device nodes, and the live roots of
// running containers: a local user who could walk into it could run those
// binaries as root, open those devices, or read any container's files.
//
// Modes: DATADIR and its top directories (state, containers, fs, pods, locks)
// are 0700 and root's; below them, trees keep the modes their images
// give them, which is safe only because nobody else can get that far.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/rootonly"
)

// Prepare makes l's data directory ready for use: it refuses one whose
// path a user other than root could change (the directory itself, or any
// directory above it), creates what is missing, and makes the data
// directory and its top directories mode 0700 whatever they were before.
// It runs at every call, also in the long-lived service: the checks cost
// a few dozen system calls, and a store may be replaced under a running
// service (a filesystem mounted over it).
func Prepare(l layout.Layout) error {
	if err := rootonly.Check(l.Datadir); err != nil {
		return &errdefs.Error{Err: fmt.Errorf("data directory %s: %w; make it and the directories above it root's alone (chown root:root, chmod go-w)",
			l.Datadir, err), Hint: errdefs.HintDatadir}
	}
	// Directories above it are made as mkdir -p would; they are root's
	// (rootonly.Check saw to that for the ones that exist).
	if err := os.MkdirAll(filepath.Dir(l.Datadir), 0o755); err != nil {
		return err
	}
	for _, dir := range []string{l.Datadir, l.StateDir(), l.ContainersDir(), l.FsDir(), l.PodsDir(), l.LocksDir()} {
		if err := private(dir); err != nil {
			return fmt.Errorf("data directory %s: %w", l.Datadir, err)
		}
	}
	return nil
}

// private creates dir with mode 0700, or gives an existing one that mode.
func private(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st.Uid != 0 {
		return fmt.Errorf("%s is not a directory of root's", dir)
	}
	if fi.Mode().Perm() != 0o700 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
