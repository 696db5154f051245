// Package archive applies tar streams, plain or compressed, to a
// directory: the root filesystems sdme builds from tarballs and from the
// layers of OCI images.
//
// An archive is data from elsewhere, so nothing an entry says can make
// Apply create, change or remove anything outside the directory: see root
// for how lookups are contained.
package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/fsmeta"
	"golang.org/x/sys/unix"
)

// Options change how Apply reads entries.
type Options struct {
	// Whiteouts applies OCI layer semantics: an entry .wh.NAME removes
	// NAME, and .wh..wh..opq empties its directory, from the layers below
	// only: what this layer writes stays, whatever the order of entries.
	// The whiteout files themselves are never created.
	Whiteouts bool
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = whiteoutPrefix + whiteoutPrefix + ".opq"
)

// Apply extracts the tar stream r into dir, an existing directory, as
// root's tar -x --xattrs would, and as a layer over what dir holds: a later
// entry replaces an earlier one, except that a directory over a directory
// keeps its contents and takes the new metadata. Directories missing from
// the archive are created with mode 0755.
//
// Entries that would reach outside dir are refused, or contained by
// resolving symlinks inside dir; either way nothing outside dir is touched.
// Such entries, and a truncated or malformed stream, give errors wrapping
// errdefs.ErrCorrupt; the errors of the filesystem (ENOSPC) come wrapped
// unchanged. Apply checks ctx between entries.
func Apply(ctx context.Context, dir string, r io.Reader, opts Options) error {
	rt, err := openRoot(dir)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer rt.close()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	a := &applier{
		ctx:  ctx,
		root: rt,
		tr:   tar.NewReader(r),
		buf:  *buf,
		dirs: make(map[string][2]unix.Timespec),
	}
	if opts.Whiteouts {
		a.layer = make(map[string]struct{})
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := a.tr.Next()
		if err == io.EOF {
			break
		}
		// ErrInsecurePath (GODEBUG=tarinsecurepath=0) comes with a usable
		// header; clean judges the name itself.
		if err != nil && !(err == tar.ErrInsecurePath && hdr != nil) {
			return streamError(err)
		}
		if err := a.apply(hdr); err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
	}
	return a.setDirTimes()
}

// bufPool holds the buffers file contents go through: large, so that big
// files go in few writes, and reused, as allocating and clearing one costs
// more than applying a small layer.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 1<<20)
	return &b
}}

// applier holds the state of one Apply.
type applier struct {
	ctx  context.Context
	root *root
	tr   *tar.Reader
	buf  []byte      // file contents pass through it
	md   fsmeta.Meta // reused for each entry

	// The times of the directories, set once all entries are written, since
	// writing an entry changes its directory's mtime.
	dirs map[string][2]unix.Timespec

	// With Whiteouts: every path this layer wrote, and their ancestors,
	// which whiteouts and opaque markers leave alone.
	layer map[string]struct{}
}

func (a *applier) apply(hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX records for the whole archive: none matters here
	}
	name, err := clean(hdr.Name)
	if err != nil {
		return err
	}
	if a.layer != nil && strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return a.whiteout(name)
	}
	if name == "" {
		return a.rootDir(hdr)
	}
	dir, base := split(name)
	pfd, err := a.root.parent(dir)
	if err != nil {
		return badPath("parent directory", dir, err)
	}
	if hdr.Typeflag != tar.TypeDir {
		delete(a.dirs, name) // replaced by something else
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = a.mkdir(pfd, base, name, hdr)
	case tar.TypeReg, tar.TypeGNUSparse: // the reader expands sparse entries
		err = a.file(pfd, base, hdr)
	case tar.TypeSymlink:
		err = a.symlink(pfd, base, hdr)
	case tar.TypeLink:
		err = a.link(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = a.mknod(pfd, base, hdr)
	default:
		err = fmt.Errorf("entry type %q: %w", hdr.Typeflag, errdefs.ErrUnsupported)
	}
	if err == nil {
		a.record(name)
	}
	return err
}

// clean turns an entry's name into a path relative to the root, "" being
// the root itself. Leading slashes go, as tar strips them, and "." and
// ".." are resolved in the name alone; a name that climbs out of the root
// is refused, rather than guessed at.
func clean(name string) (string, error) {
	for strings.HasPrefix(name, "/") || strings.HasPrefix(name, "./") {
		name = name[strings.IndexByte(name, '/')+1:]
	}
	name = path.Clean(name) // no copy when already clean
	if name == "." {
		return "", nil
	}
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("path leads outside the tree: %w", errdefs.ErrCorrupt)
	}
	return name, nil
}

// split splits a clean path into its directory and last component.
func split(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// badPath reports a lookup of p that failed. The errors that mean the
// tree is not shaped as the entry says (a file where a directory should
// be, a symlink to nowhere or in a loop) make the entry corrupt; the rest
// are the filesystem's.
func badPath(what, p string, err error) error {
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ELOOP:
		return fmt.Errorf("%s %q: %w: %w", what, p, err, errdefs.ErrCorrupt)
	}
	return fmt.Errorf("%s %q: %w", what, p, err)
}

func streamError(err error) error {
	// A stream refused for what it asks for (a decompressor's window over
	// the limit) is not damaged, and its error says why already.
	if errors.Is(err, errdefs.ErrUnsupported) {
		return err
	}
	return fmt.Errorf("truncated or corrupt archive: %w: %w", err, errdefs.ErrCorrupt)
}

// create runs mk to create an entry named base in pfd. When the name is
// taken, it removes what is there, a directory with its contents, and runs
// mk again: a later entry replaces an earlier one.
func (a *applier) create(pfd int, base string, mk func() error) error {
	err := mk()
	if err != unix.EEXIST {
		return err
	}
	a.root.forget()
	if err := removeAll(pfd, base); err != nil && err != unix.ENOENT {
		return err
	}
	return mk()
}

func (a *applier) mkdir(pfd int, base, name string, hdr *tar.Header) error {
	switch err := unix.Mkdirat(pfd, base, 0o700); err {
	case nil:
	case unix.EEXIST:
		// A directory over a directory keeps what the first holds; over
		// anything else it replaces it.
		if err := unix.Unlinkat(pfd, base, 0); err != unix.EISDIR {
			if err != nil {
				return err
			}
			a.root.forget()
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return err
			}
		}
	default:
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := fsmeta.Set(fsmeta.File(fd), a.meta(hdr)); err != nil {
		return err
	}
	a.dirs[name] = times(hdr)
	return nil
}

// rootDir applies the metadata of an entry "./" to the root itself.
func (a *applier) rootDir(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("a non-directory at the root: %w", errdefs.ErrCorrupt)
	}
	fd, err := a.root.open("", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := fsmeta.Set(fsmeta.File(fd), a.meta(hdr)); err != nil {
		return err
	}
	a.dirs[""] = times(hdr)
	return nil
}

func (a *applier) file(pfd int, base string, hdr *tar.Header) error {
	fd := -1
	err := a.create(pfd, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	err = a.fillFile(fd, hdr)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// fillFile writes the content, then the metadata of a new file: writing
// would clear the setuid bit and the capabilities.
func (a *applier) fillFile(fd int, hdr *tar.Header) error {
	if err := a.copyContent(fd); err != nil {
		return err
	}
	return a.finish(fsmeta.File(fd), hdr)
}

// holeMin is the smallest run of zeros copyContent leaves as a hole.
const holeMin = 64 << 10

var zeros [1 << 20]byte

// copyContent writes the current entry's content to fd in chunks of
// len(a.buf). A chunk of zeros at least holeMin long is skipped, leaving
// a hole, as tar does for sparse entries: the archive/tar reader expands
// a sparse entry's holes into zeros, and writing them all could fill the
// disk with what the archive stored in a few bytes.
func (a *applier) copyContent(fd int) error {
	var off int64
	hole := false
	for {
		// One entry may expand to gigabytes from a few bytes: a stop
		// (Ctrl-C, a disk running low) must not wait for its end.
		if err := a.ctx.Err(); err != nil {
			return err
		}
		n, rerr := fill(a.tr, a.buf)
		if n > 0 {
			chunk := a.buf[:n]
			if hole = n >= holeMin && bytes.Equal(chunk, zeros[:n]); hole {
				if _, err := unix.Seek(fd, int64(n), io.SeekCurrent); err != nil {
					return err
				}
			} else if err := writeAll(fd, chunk); err != nil {
				return err
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return streamError(rerr)
		}
	}
	if hole {
		return unix.Ftruncate(fd, off) // the file ends in a hole
	}
	return nil
}

// fill reads from r until buf is full or r ends.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}

// symlink creates a symlink as it is: its target is data, and only ever
// resolved inside the root when a later entry goes through it.
func (a *applier) symlink(pfd int, base string, hdr *tar.Header) error {
	err := a.create(pfd, base, func() error {
		return unix.Symlinkat(hdr.Linkname, pfd, base)
	})
	if err != nil {
		return err
	}
	return a.finish(fsmeta.At(pfd, base, true), hdr)
}

func (a *applier) mknod(pfd int, base string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := a.create(pfd, base, func() error {
		return unix.Mknodat(pfd, base, mode, dev)
	})
	if err != nil {
		return err
	}
	return a.finish(fsmeta.At(pfd, base, false), hdr)
}

// finish gives a new node the metadata of its entry, times last.
func (a *applier) finish(n fsmeta.Node, hdr *tar.Header) error {
	if err := fsmeta.Set(n, a.meta(hdr)); err != nil {
		return err
	}
	t := times(hdr)
	return fsmeta.SetTimes(n, t[0], t[1])
}

// link makes a hard link to an entry already in the tree. The target is
// looked up like any path, inside the root, and linkat does not follow it
// when it is a symlink: the link is to the symlink itself.
func (a *applier) link(pfd int, base string, hdr *tar.Header) error {
	target, err := clean(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	if target == "" {
		return fmt.Errorf("hard link to the root: %w", errdefs.ErrCorrupt)
	}
	tdir, tbase := split(target)
	tfd, err := a.root.open(tdir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return badPath("hard link to", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	err = a.create(pfd, base, func() error {
		return unix.Linkat(tfd, tbase, pfd, base, 0)
	})
	if err != nil {
		return badPath("hard link to", hdr.Linkname, err)
	}
	return nil
}

// meta returns the owner, mode and extended attributes of hdr, in a.md.
func (a *applier) meta(hdr *tar.Header) *fsmeta.Meta {
	a.md = fsmeta.Meta{
		Uid:    hdr.Uid,
		Gid:    hdr.Gid,
		Mode:   uint32(hdr.Mode) & 0o7777,
		Xattrs: a.md.Xattrs[:0],
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			a.md.Xattrs = append(a.md.Xattrs, fsmeta.Xattr{Name: name, Value: []byte(v)})
		}
	}
	return &a.md
}

// times returns the atime and mtime of hdr. An archive without atimes
// gets the mtime for both, so that applying it twice gives the same tree.
func times(hdr *tar.Header) [2]unix.Timespec {
	m := timespec(hdr.ModTime)
	if hdr.AccessTime.IsZero() {
		return [2]unix.Timespec{m, m}
	}
	return [2]unix.Timespec{timespec(hdr.AccessTime), m}
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// setDirTimes sets the times of the directories the archive listed. Those
// a later entry removed or replaced are left alone.
func (a *applier) setDirTimes() error {
	for name, t := range a.dirs {
		fd, err := a.root.open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
			continue
		}
		if err == nil {
			err = fsmeta.SetTimes(fsmeta.File(fd), t[0], t[1])
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", name, err)
		}
	}
	return nil
}

// record notes that this layer wrote name, and so its ancestors.
func (a *applier) record(name string) {
	if a.layer == nil {
		return
	}
	for name != "" {
		if _, ok := a.layer[name]; ok {
			return // and so are its ancestors
		}
		a.layer[name] = struct{}{}
		name, _ = split(name)
	}
}

// whiteout applies an OCI whiteout entry: .wh.NAME removes NAME, and
// .wh..wh..opq everything in its directory, unless this layer wrote it.
// A whiteout for something absent is no error: layers may repeat them.
func (a *applier) whiteout(name string) error {
	dir, base := split(name)
	if base == opaqueMarker {
		return a.opaque(dir)
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("whiteout of %q: %w", victim, errdefs.ErrCorrupt)
	}
	if _, ok := a.layer[path.Join(dir, victim)]; ok {
		return nil
	}
	pfd, err := a.root.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return badPath("directory", dir, err)
	}
	defer unix.Close(pfd)
	a.root.forget()
	if err := removeAll(pfd, victim); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

func (a *applier) opaque(dir string) error {
	fd, err := a.root.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return badPath("directory", dir, err)
	}
	defer unix.Close(fd)
	a.root.forget()
	return a.prune(fd, dir)
}

// prune removes from the directory open at fd, at path dir, everything
// this layer did not write, and descends into the directories it did: an
// opaque directory hides all the layers below hold under it.
func (a *applier) prune(fd int, dir string) error {
	names, err := fsmeta.Names(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if _, ok := a.layer[p]; !ok {
			if err := removeAll(fd, n); err != nil && err != unix.ENOENT {
				return err
			}
			continue
		}
		sub, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR || err == unix.ELOOP {
			continue // a file or a symlink this layer wrote
		}
		if err != nil {
			return err
		}
		err = a.prune(sub, p)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	return nil
}
