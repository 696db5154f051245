// Package copytree copies a directory tree with everything a root
// filesystem needs, as cp -a does: the trees sdme imports from a
// debootstrap run or a mounted disk image.
package copytree

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/fsmeta"
	"golang.org/x/sys/unix"
)

// progressEvery is how often Copy reports progress.
const progressEvery = 100 * time.Millisecond

// Copy copies the tree at src into dst, an existing empty directory. It
// keeps file types (sockets are recreated, as cp -a does), owners, modes
// with setuid, setgid and sticky bits, extended attributes but
// security.selinux (so file capabilities and trusted.overlay.* too), hard
// links, and access and modification times to the nanosecond; dst itself
// takes the metadata of src.
//
// Copy never follows a symlink in src but src itself, and never writes
// through one in dst. Like cp -a, it descends into filesystems mounted
// below src, and links files across them only within one filesystem.
// File contents are copied with copy_file_range, so that a filesystem
// that can share extents (btrfs, XFS) does, by a pool of workers, while one
// goroutine walks the tree in order.
//
// progress, if not nil, is called with the number of bytes of file content
// copied since its previous call, every 100 ms and once at the end, always
// from the goroutine that called Copy.
//
// Errors name the path in src; those of the filesystem (ENOSPC) come
// wrapped unchanged.
func Copy(ctx context.Context, src, dst string, progress func(n int64)) error {
	srcFd, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer unix.Close(srcFd)
	dstFd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	defer unix.Close(dstFd)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := workers()
	c := &copier{
		ctx:   ctx,
		fail:  cancel,
		src:   src,
		dst:   dstFd,
		files: make(chan job, n),
		links: make(map[inode]string),
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(c.work)
	}
	wg.Go(func() {
		defer close(c.files)
		if err := c.root(srcFd, dstFd); err != nil {
			cancel(err)
		}
	})
	c.wait(&wg, progress)
	if ctx.Err() != nil {
		return context.Cause(ctx) // the first error
	}
	return nil
}

// wait waits for the walk and the workers to end, reporting progress
// meanwhile.
func (c *copier) wait(wg *sync.WaitGroup, progress func(n int64)) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			c.report(progress)
		case <-done:
			c.report(progress)
			return
		}
	}
}

func (c *copier) report(progress func(n int64)) {
	if n := c.copied.Swap(0); n > 0 && progress != nil {
		progress(n)
	}
}

// workers is the number of goroutines copying file contents: more than
// there are CPUs, as most of their time goes waiting on the disk.
func workers() int {
	return max(4, 2*runtime.GOMAXPROCS(0))
}

// inode identifies a file, to find its other hard links.
type inode struct {
	dev, ino uint64
}

// copier holds the state of one Copy. Only the walking goroutine touches
// links.
type copier struct {
	ctx    context.Context
	fail   context.CancelCauseFunc
	src    string // for messages
	dst    int    // the destination root
	files  chan job
	links  map[inode]string // path of the first copy of a file with hard links
	copied atomic.Int64     // bytes of content since the last report
}

// job is a regular file for a worker to fill: its source and its new copy,
// both open, which the worker closes.
type job struct {
	src, dst int
	st       unix.Stat_t
	rel      string
}

func (c *copier) errorf(rel string, err error) error {
	return fmt.Errorf("copy %s: %w", filepath.Join(c.src, rel), err)
}

// root copies the metadata of the source root, then the tree below it,
// then its times.
func (c *copier) root(src, dst int) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return c.errorf("", err)
	}
	return c.dir(src, dst, "", &st)
}

// dir copies the metadata of a directory, then its entries, then its
// times, which creating the entries would have changed.
func (c *copier) dir(src, dst int, rel string, st *unix.Stat_t) error {
	if err := copyMeta(fsmeta.File(src), fsmeta.File(dst), st); err != nil {
		return c.errorf(rel, err)
	}
	names, err := fsmeta.Names(src)
	if err != nil {
		return c.errorf(rel, err)
	}
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if err := c.entry(src, dst, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	if err := fsmeta.SetTimes(fsmeta.File(dst), st.Atim, st.Mtim); err != nil {
		return c.errorf(rel, err)
	}
	return nil
}

// entry copies name from the directory src into the directory dst.
func (c *copier) entry(src, dst int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return c.errorf(rel, err)
	}
	typ := st.Mode & unix.S_IFMT
	id := inode{st.Dev, st.Ino}
	linked := typ != unix.S_IFDIR && st.Nlink > 1
	if first, ok := c.links[id]; linked && ok {
		if err := c.link(first, dst, name); err != nil {
			return c.errorf(rel, fmt.Errorf("hard link to %s: %w", first, err))
		}
		return nil
	}
	var err error
	switch typ {
	case unix.S_IFDIR:
		err = c.subdir(src, dst, name, rel, &st)
	case unix.S_IFREG:
		err = c.file(src, dst, name, rel, &st)
	case unix.S_IFLNK:
		err = symlink(src, dst, name, &st)
	default: // devices, FIFOs and sockets
		err = mknod(src, dst, name, &st)
	}
	if err != nil {
		return c.errorf(rel, err)
	}
	if linked {
		c.links[id] = rel
	}
	return nil
}

func (c *copier) subdir(src, dst int, name, rel string, st *unix.Stat_t) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	d, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return c.dir(s, d, rel, st)
}

// file creates the copy of a regular file and hands both to a worker.
func (c *copier) file(src, dst int, name, rel string, st *unix.Stat_t) error {
	// The source may have changed since it was listed: O_NONBLOCK keeps a
	// FIFO put in its place from blocking the open, and fstat tells.
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var now unix.Stat_t
	if err := unix.Fstat(s, &now); err != nil || now.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(s)
		return fmt.Errorf("changed while being copied: %w", errdefs.ErrCorrupt)
	}
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		unix.Close(s)
		return err
	}
	j := job{src: s, dst: d, st: *st, rel: rel}
	select {
	case c.files <- j:
		return nil
	case <-c.ctx.Done():
		j.close()
		return c.ctx.Err()
	}
}

func (j *job) close() {
	unix.Close(j.src)
	unix.Close(j.dst)
}

// work fills the files the walk hands out. After a failure it only closes
// them, until the walk stops.
func (c *copier) work() {
	for j := range c.files {
		if c.ctx.Err() != nil {
			j.close()
			continue
		}
		if err := c.fill(&j); err != nil {
			c.fail(c.errorf(j.rel, err))
		}
	}
}

// fill copies the content, then the metadata of a file: writing would
// clear the setuid bit and the capabilities.
func (c *copier) fill(j *job) error {
	defer unix.Close(j.src)
	err := copyContent(c.ctx, j.src, j.dst, &j.st, &c.copied)
	if err == nil {
		err = copyMeta(fsmeta.File(j.src), fsmeta.File(j.dst), &j.st)
	}
	if err == nil {
		err = fsmeta.SetTimes(fsmeta.File(j.dst), j.st.Atim, j.st.Mtim)
	}
	if cerr := unix.Close(j.dst); err == nil {
		err = cerr
	}
	return err
}

// link makes name in dst another hard link to first, the copy of the
// same file made earlier. first's directories were made by this copy, so
// the lookup refuses any symlink on the way.
func (c *copier) link(first string, dst int, name string) error {
	dir, base := path.Split(first)
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	dirFd, err := unix.Openat2(c.dst, "./"+dir, &how)
	if err != nil {
		return err
	}
	defer unix.Close(dirFd)
	return unix.Linkat(dirFd, base, dst, name, 0)
}

func symlink(src, dst int, name string, st *unix.Stat_t) error {
	buf := make([]byte, max(st.Size+1, 256))
	for {
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf)) // the size lied: /proc does
	}
	if err := unix.Symlinkat(string(buf), dst, name); err != nil {
		return err
	}
	return finishAt(src, dst, name, true, st)
}

func mknod(src, dst int, name string, st *unix.Stat_t) error {
	if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
		return err
	}
	return finishAt(src, dst, name, false, st)
}

// finishAt copies the metadata of a node that cannot be opened.
func finishAt(src, dst int, name string, symlink bool, st *unix.Stat_t) error {
	d := fsmeta.At(dst, name, symlink)
	if err := copyMeta(fsmeta.At(src, name, symlink), d, st); err != nil {
		return err
	}
	return fsmeta.SetTimes(d, st.Atim, st.Mtim)
}

// copyMeta gives dst the owner, mode and extended attributes of src.
func copyMeta(src, dst fsmeta.Node, st *unix.Stat_t) error {
	xs, err := fsmeta.Xattrs(src)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = nil // a filesystem without them, as vfat
	}
	if err != nil {
		return err
	}
	return fsmeta.Set(dst, &fsmeta.Meta{
		Uid:    int(st.Uid),
		Gid:    int(st.Gid),
		Mode:   st.Mode & 0o7777,
		Xattrs: xs,
	})
}
