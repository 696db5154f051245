package buildfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
)

// The build context belongs to whoever wrote the build file, and sdme
// reads it as root: a symlink in it to /etc/shadow must not let COPY read
// the shadow file. So every lookup is openat2(RESOLVE_IN_ROOT) from the
// context, which resolves "..", absolute and relative symlinks as if the
// context were /, and what a source matches is never followed: a symlink
// is copied as a symlink. Lookups open O_PATH, which reaches an inode without
// calling a driver, and only a regular file or a directory is then opened
// for reading: opening a FIFO blocks, and opening a device can act.

// Expand returns the paths in the build context that the COPY source
// matches, relative to the context and sorted. A source is a path or a
// glob pattern (as path.Match), matched one element at a time; a source
// that matches nothing is an error.
func Expand(context, source string) ([]string, error) {
	r, err := openRoot(context)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.expand(source)
}

// ContentDigest returns the digest of what a COPY of sources from the
// build context reads: every file, directory and symlink a source matches,
// with its path, type, permission bits, and content or target. It leaves
// out what COPY does not keep (owner, times).
func ContentDigest(context string, sources []string) (string, error) {
	r, err := openRoot(context)
	if err != nil {
		return "", err
	}
	defer r.close()
	h := sha256.New()
	for _, src := range sources {
		paths, err := r.expand(src)
		if err != nil {
			return "", err
		}
		// Each record starts with a tag, so sources and entries cannot be
		// mistaken for one another.
		field(h, "source")
		field(h, src)
		for _, p := range paths {
			if err := r.hash(h, src, p); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// root is a build context opened for lookups inside it.
type root struct {
	dir string
	fd  int // O_PATH
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &root{dir, fd}, nil
}

func (r *root) close() { unix.Close(r.fd) }

func (r *root) pathError(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: filepath.Join(r.dir, name), Err: err}
}

// open looks name up in the root and opens it O_PATH; flags may add
// O_NOFOLLOW, to open a symlink rather than what it leads to.
func (r *root) open(name string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_PATH | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, name, &how)
		// EAGAIN: a rename raced the lookup, and the kernel asks to try
		// again rather than risk a wrong answer.
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, r.pathError("open", name, err)
		}
		return fd, nil
	}
}

func (r *root) expand(source string) ([]string, error) {
	src, err := checkSource(source)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	paths := []string{"."}
	if src != "." {
		elems := strings.Split(src, "/")
		for i, elem := range elems {
			if paths, err = r.match(paths, elem, i == len(elems)-1); err != nil {
				return nil, err
			}
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("COPY source %s matches nothing: %w", show(source), errdefs.ErrInvalidArgument)
	}
	slices.Sort(paths)
	return paths, nil
}

// match returns the paths that elem, one element of a source, matches in
// the directories dirs. Only the last element has to exist: a missing
// directory on the way shows as a missing last element.
func (r *root) match(dirs []string, elem string, last bool) ([]string, error) {
	var out []string
	for _, dir := range dirs {
		if !strings.ContainsAny(elem, `*?[\`) {
			p := path.Join(dir, elem)
			if last {
				fd, err := r.open(p, unix.O_NOFOLLOW)
				if missing(err) {
					continue
				}
				if err != nil {
					return nil, err
				}
				unix.Close(fd)
			}
			out = append(out, p)
			continue
		}
		fd, err := r.open(dir, 0)
		if err == nil {
			var names []string
			names, err = readDir(fd)
			unix.Close(fd)
			for _, name := range names {
				if ok, _ := path.Match(elem, name); ok {
					out = append(out, path.Join(dir, name))
				}
			}
		}
		if err != nil && !missing(err) {
			return nil, err
		}
	}
	return out, nil
}

// missing reports whether err says a path leads nowhere: it does not
// exist, or goes through something that is not a directory.
func missing(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}

// readDir returns the names in the directory fd, an O_PATH descriptor,
// sorted. Anything else is ENOTDIR.
func readDir(fd int) ([]string, error) {
	d, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(d), ".")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// hash adds the entry p (matched by source) to h, then all below it if
// it is a directory, in sorted order.
func (r *root) hash(h hash.Hash, source, p string) error {
	names, err := r.hashEntry(h, source, p)
	for _, name := range names {
		if err = r.hash(h, source, path.Join(p, name)); err != nil {
			break
		}
	}
	return err
}

// hashEntry adds the entry p to h, and returns the names in it if it is a
// directory: its descriptor is closed before hash descends, so that a
// deep tree does not hold one per level.
func (r *root) hashEntry(h hash.Hash, source, p string) ([]string, error) {
	fd, err := r.open(p, unix.O_NOFOLLOW)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, r.pathError("fstat", p, err)
	}
	field(h, "entry")
	field(h, p)
	number(h, uint64(st.Mode&(unix.S_IFMT|0o7777)))
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		names, err := readDir(fd)
		if err != nil {
			return nil, r.pathError("readdir", p, err)
		}
		return names, nil
	case unix.S_IFREG:
		if err := hashFile(h, fd, st.Size); err != nil {
			return nil, r.pathError("read", p, err)
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return nil, r.pathError("readlink", p, err)
		}
		field(h, string(buf[:n]))
	default:
		return nil, fmt.Errorf("COPY source %s: %s is %s, which COPY does not copy: %w", show(source), show(p), intree.Kind(st.Mode), errdefs.ErrUnsupported)
	}
	return nil, nil
}

// hashFile adds the size bytes of the regular file fd, an O_PATH
// descriptor, to h. It opens the file through /proc/self/fd, which
// reaches the inode fd names whatever has become of its path since.
func hashFile(h hash.Hash, fd int, size int64) error {
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return err
	}
	defer f.Close()
	number(h, uint64(size))
	n, err := io.Copy(h, io.LimitReader(f, size))
	if err == nil && n < size {
		err = errors.New("the file shrank while being read")
	}
	return err
}
