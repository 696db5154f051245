package archive

import (
	"strings"

	"github.com/sdme/sdme/engine/fsmeta"
	"golang.org/x/sys/unix"
)

// root is the directory an archive is applied to. Every path is looked up
// in it with openat2(RESOLVE_IN_ROOT): the kernel resolves "..", absolute
// symlinks and relative ones as if the directory were "/", so an entry
// that goes through a symlink lands inside the tree whatever the symlink
// says, and no race with a rename can take it out. Only the directory
// holding an entry is resolved that way; the entry itself is created,
// replaced or changed with *at calls on its last component, which never
// follow it.
type root struct {
	fd int // O_PATH

	// The parent directory of the last entry. Archives list a directory's
	// entries together, so most entries reuse it. A removal can change
	// what a path resolves to, so removals mark it stale; its descriptor
	// stays open until the next lookup, as the entry being applied may be
	// using it.
	dir   string
	dirFd int
	stale bool
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &root{fd: fd, dirFd: -1}, nil
}

func (r *root) close() {
	if r.dirFd >= 0 {
		unix.Close(r.dirFd)
	}
	unix.Close(r.fd)
}

// open opens the path p (clean and relative; "" is the root) inside the
// root. flags are open flags for openat2; O_PATH ones are all the *at calls
// need.
func (r *root) open(p string, flags int) (int, error) {
	if p == "" {
		p = "."
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, p, &how)
		// EAGAIN: a rename or mount elsewhere raced the lookup; the kernel
		// asks to try again rather than risk a wrong answer.
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
}

// parent returns a descriptor of the directory p, creating what is missing
// of it as tar does: mode 0755, owned by root. The descriptor belongs to r
// and stays valid until the next call.
func (r *root) parent(p string) (int, error) {
	if p == "" {
		return r.fd, nil
	}
	if p == r.dir && !r.stale {
		return r.dirFd, nil
	}
	fd, err := r.open(p, unix.O_PATH|unix.O_DIRECTORY)
	if err == unix.ENOENT {
		fd, err = r.mkdirAll(p)
	}
	if err != nil {
		return -1, err
	}
	if r.dirFd >= 0 {
		unix.Close(r.dirFd)
	}
	r.dir, r.dirFd, r.stale = p, fd, false
	return fd, nil
}

// forget marks the cached parent stale. Called before anything is removed.
func (r *root) forget() { r.stale = true }

// mkdirAll creates the missing directories of p, one component at a time,
// each in the resolved descriptor of the one before.
func (r *root) mkdirAll(p string) (int, error) {
	dirFd := r.fd
	for i := 0; ; {
		end := len(p)
		if j := strings.IndexByte(p[i:], '/'); j >= 0 {
			end = i + j
		}
		fd, err := r.open(p[:end], unix.O_PATH|unix.O_DIRECTORY)
		if err == unix.ENOENT {
			// A dangling symlink makes mkdirat fail with EEXIST, and is
			// reported as the ENOENT it resolves to.
			if err = unix.Mkdirat(dirFd, p[i:end], 0o755); err == nil {
				err = unix.Fchmodat(dirFd, p[i:end], 0o755, 0) // the umask's share
			}
			if err == nil || err == unix.EEXIST {
				fd, err = r.open(p[:end], unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		if dirFd != r.fd {
			unix.Close(dirFd)
		}
		if err != nil {
			return -1, err
		}
		if end == len(p) {
			return fd, nil
		}
		dirFd, i = fd, end+1
	}
}

// removeAll removes name from the directory dirFd, and first all it holds
// if it is a directory. It never follows a symlink: it descends with
// O_NOFOLLOW and unlinks symlinks themselves. A missing name is an error
// (ENOENT) for the caller to judge.
func removeAll(dirFd int, name string) error {
	err := unix.Unlinkat(dirFd, name, 0)
	if err != unix.EISDIR {
		return err
	}
	fd, err := unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := fsmeta.Names(fd)
	for _, n := range names {
		if err = removeAll(fd, n); err == unix.ENOENT {
			err = nil // gone already
		}
		if err != nil {
			break
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirFd, name, unix.AT_REMOVEDIR)
}
