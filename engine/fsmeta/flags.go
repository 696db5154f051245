package fsmeta

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The inode flags that stop even root from unlinking a file or the
// entries of a directory (chattr +i, +a), from linux/fs.h; x/sys/unix
// does not name them.
const (
	immutableFlag = 0x10 // FS_IMMUTABLE_FL
	appendFlag    = 0x20 // FS_APPEND_FL
	pinFlags      = immutableFlag | appendFlag
)

// Unpin clears the immutable and append-only flags of dir and of every
// directory and regular file below it, so that the tree can be deleted.
// A container's root may set them on its own files, since nspawn leaves it
// CAP_LINUX_IMMUTABLE. Symlinks are never followed, and only directories
// and regular files are opened (the flags are set through an open file;
// opening a device would reach its driver instead).
func Unpin(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	return unpinDir(fd, dir)
}

func unpinDir(fd int, path string) error {
	if err := unpin(fd, path); err != nil {
		return err
	}
	names, err := Names(fd)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var errs []error
	for _, name := range names {
		if err := unpinAt(fd, name, path+"/"+name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unpinAt(dirFd int, name, path string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirFd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFDIR && mode != unix.S_IFREG {
		return nil
	}
	fd, err := unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if mode == unix.S_IFDIR {
		return unpinDir(fd, path)
	}
	return unpin(fd, path)
}

// unpin clears the flags of the open file fd, where it has any.
func unpin(fd int, path string) error {
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil // a filesystem without inode flags has none to clear
	}
	if err != nil {
		return fmt.Errorf("flags of %s: %w", path, err)
	}
	if flags&pinFlags == 0 {
		return nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags&^pinFlags)); err != nil {
		return fmt.Errorf("clear the immutable flags of %s: %w", path, err)
	}
	return nil
}
