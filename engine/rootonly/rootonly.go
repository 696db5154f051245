// Package rootonly tells whether a path is root's alone: whether only root
// can change which file it names or what that file holds. sdme checks this
// before it trusts a path that another program or a user chose: its data
// directory, a disk image it hands to qemu and the loop driver.
//
// The rule is sshd's StrictModes and systemd's for credentials: the file
// and every directory above it belong to root and are not writable by its
// group or by others. A world-writable directory with the sticky bit
// (/tmp) is allowed where the entry below it exists and is root's, since
// the sticky bit keeps others from renaming or removing root's entries;
// an entry still missing there could be made first by anyone.
package rootonly

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrNotRootOnly is wrapped by the errors of Check.
var ErrNotRootOnly = errors.New("can be changed by users other than root")

// Check reports, as an error naming the culprit, whether anyone but root
// could change what path names. The path is resolved one component at a
// time, as the kernel resolves it, and every directory it passes through
// and every symlink it follows is checked, wherever the symlinks lead. A
// path that does not exist yet is checked up to its deepest existing
// directory, which must then not let others create the rest.
func Check(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s is not an absolute path", path)
	}
	cur := "/"
	st, err := lstat(cur)
	if err != nil {
		return err
	}
	if err := ownedByRoot(cur, st); err != nil {
		return err
	}
	parts := strings.Split(path, "/")
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			// cur holds no symlink, so its parent is the kernel's "..";
			// it was checked on the way down.
			cur = filepath.Dir(cur)
			if st, err = lstat(cur); err != nil {
				return err
			}
			continue
		}
		next := filepath.Join(cur, name)
		nst, err := lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			// Whoever may write cur may create next before root does.
			return writableByOthers(cur, st, false)
		}
		if err != nil {
			return err
		}
		// Owned by someone else, next is theirs to change; owned by root,
		// it is safe from others even in a sticky directory.
		if err := ownedByRoot(next, nst); err != nil {
			return err
		}
		if err := writableByOthers(cur, st, true); err != nil {
			return err
		}
		if nst.Mode&syscall.S_IFMT != syscall.S_IFLNK {
			cur, st = next, nst
			continue
		}
		if hops++; hops > 40 {
			return &fs.PathError{Op: "resolve", Path: path, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return err
		}
		if filepath.IsAbs(target) {
			cur = "/"
			if st, err = lstat(cur); err != nil {
				return err
			}
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return writableByOthers(cur, st, false)
}

func lstat(p string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return &st, nil
}

func ownedByRoot(p string, st *syscall.Stat_t) error {
	if st.Uid != 0 {
		return fmt.Errorf("%s belongs to uid %d: %w", p, st.Uid, ErrNotRootOnly)
	}
	return nil
}

// writableByOthers fails if users other than root may add, rename or
// remove entries of directory p (or change file p). childIsRoots says the
// entry below it that matters exists and is root's, which a sticky
// directory protects.
func writableByOthers(p string, st *syscall.Stat_t, childIsRoots bool) error {
	if st.Mode&0o022 == 0 {
		return nil
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR && st.Mode&syscall.S_ISVTX != 0 && childIsRoots {
		return nil
	}
	return fmt.Errorf("%s is writable by its group or by others (mode %04o): %w", p, st.Mode&0o7777, ErrNotRootOnly)
}
