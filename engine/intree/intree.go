// Package intree reads files of a tree that someone else wrote (an
// unpacked image, an OCI layout, a running guest's root) without letting
// the tree make root read anything else.
//
// A tree's symlinks are the tree's business: etc/os-release -> /dev/watchdog
// or index.json -> /etc/shadow must mean the tree's own /dev/watchdog and
// /etc/shadow, and a FIFO or a device node must never be opened at all
// (opening a watchdog arms it; reading a FIFO blocks forever). So every
// lookup is openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) from the tree's
// top, which resolves "..", absolute and relative symlinks as if the tree
// were /, and opens O_PATH, which reaches the inode without calling any
// driver. Only once fstat says it is a regular file is it opened for
// reading, through /proc/self/fd, which reaches that same inode.
package intree

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
)

// Open opens the regular file name (a path relative to dir, as the tree
// sees it) for reading. A missing file is an error wrapping
// fs.ErrNotExist; anything but a regular file wraps errdefs.ErrCorrupt.
func Open(dir, name string) (*os.File, error) {
	return open(dir, name, unix.S_IFREG, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, errdefs.ErrCorrupt)
}

// OpenFile opens the regular file at path, an absolute path of the host
// that a user named (an archive or disk image to import), as Open opens a
// tree's file: whoever can change the path may by now have pointed it at
// a FIFO, whose open would block, or a device, whose open alone can act
// (a watchdog starts counting down). Anything but a regular file wraps
// errdefs.ErrUnsupported: it is not a source sdme imports.
func OpenFile(path string) (*os.File, error) {
	return open("/", path, unix.S_IFREG, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, errdefs.ErrUnsupported)
}

// open opens name below dir with flags if it is of the type want
// (S_IFREG, S_IFDIR), and otherwise fails wrapping class (or ENOTDIR):
// the O_PATH descriptor of the lookup says what it is without opening it,
// and only then is it opened for real, through /proc/self/fd, which
// reaches the same inode.
func open(dir, name string, want uint32, flags int, class error) (*os.File, error) {
	fd, err := lookup(dir, name)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	switch got := st.Mode & unix.S_IFMT; {
	case got == want:
	case want == unix.S_IFDIR:
		return nil, &fs.PathError{Op: "open", Path: name, Err: unix.ENOTDIR}
	default:
		return nil, fmt.Errorf("%s is %s, not a regular file: %w", name, Kind(st.Mode), class)
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), flags, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", name, err)
	}
	return f, nil
}

// ReadFile reads the regular file name below dir (see Open), which must
// not be larger than limit bytes.
func ReadFile(dir, name string, limit int64) ([]byte, error) {
	f, err := Open(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", name, limit, errdefs.ErrCorrupt)
	}
	return data, nil
}

// Stat describes what name below dir leads to, following symlinks inside
// the tree, without opening it.
func Stat(dir, name string) (fs.FileInfo, error) {
	fd, err := lookup(dir, name)
	if err != nil {
		return nil, err
	}
	// An O_PATH descriptor: Stat is fstat, and Close opens nothing.
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return f.Stat()
}

// ReadDir lists the directory name below dir, sorted by name.
func ReadDir(dir, name string) ([]fs.DirEntry, error) {
	f, err := open(dir, name, unix.S_IFDIR, unix.O_RDONLY|unix.O_DIRECTORY, nil)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, err
}

// Readlink returns the target of the symlink name below dir (its last
// component is not followed; the ones before it are, inside dir).
func Readlink(dir, name string) (string, error) {
	fd, err := lookupHow(dir, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

// lookup opens name below dir with O_PATH, contained in dir.
func lookup(dir, name string) (int, error) { return lookupHow(dir, name, unix.O_PATH) }

func lookupHow(dir, name string, flags int) (int, error) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(root)
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(root, name, &how)
		// EAGAIN: a rename elsewhere in the tree raced the lookup, and the
		// kernel asks to try again rather than risk a wrong answer.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return fd, nil
	}
}

// Kind names the file type of a stat mode for a message: "a FIFO".
func Kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "a special file"
}
