package containers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/fsmeta"
)

// makeDirs makes the container's directories. The container's directory
// is root's alone like the data directory; upper and merged have the mode
// of the container's / .
func (e *Engine) makeDirs(name string) error {
	if err := os.Mkdir(e.layout.ContainerDir(name), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for dir, mode := range map[string]os.FileMode{
		e.layout.Upper(name): 0o755, e.layout.Work(name): 0o700, e.layout.Merged(name): 0o755,
	} {
		if err := os.MkdirAll(dir, mode); err != nil {
			return err
		}
		if err := os.Chmod(dir, mode); err != nil { // MkdirAll honours umask
			return err
		}
	}
	return nil
}

// removeContainerDir deletes a container's directory. It first unmounts
// whatever is still mounted below it, deepest first, and refuses to delete
// if anything stays mounted: deleting through a live overlay would write
// whiteouts instead, and through a bind mount would delete host files.
func (e *Engine) removeContainerDir(name string) error {
	dir := e.layout.ContainerDir(name)
	mounts, err := mountsBelow(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	if left, err := mountsBelow(dir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("refusing to delete %s: %s is still mounted", dir, left[0])
	}
	err = os.RemoveAll(dir)
	if errors.Is(err, fs.ErrPermission) {
		// The guest made some of its files immutable (chattr +i), which
		// stops even root: clear the flags, then delete.
		if err = fsmeta.Unpin(dir); err == nil {
			err = os.RemoveAll(dir)
		}
	}
	return err
}
