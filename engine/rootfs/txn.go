package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/diskimage"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/names"
)

// Txn is an import in progress. The importer fills Root; Work is scratch
// space on the same filesystem (downloads, mount points, unpacked
// layouts). Both live in the transaction's staging directory, which
// Commit renames into place and Abort deletes.
type Txn struct {
	s     Store
	name  string
	force bool
	dir   string
	lock  *lock.Lock
}

// Begin starts an import of rootfs name. An existing rootfs of that name
// is an error unless force is set, and a used one cannot be replaced even
// then: both are checked now, before any slow work. Leftovers of earlier
// imports of name that died are removed first.
func (s Store) Begin(name string, force bool) (*Txn, error) {
	if err := names.Validate(name); err != nil {
		return nil, err
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	s.GC() // best effort: another name's leftovers must not stop this import
	// No wait: the holder is most likely another import of the same name,
	// which may take minutes.
	l, err := s.lock(name, false, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot import: %w", err)
	}
	t := &Txn{s: s, name: name, force: force, lock: l, dir: s.layout.Staging(name, "import", os.Getpid())}
	if err := t.begin(); err != nil {
		l.Unlock()
		return nil, err
	}
	return t, nil
}

func (t *Txn) begin() error {
	if err := t.s.gcName(t.name); err != nil {
		return err
	}
	if err := t.checkReplace(); err != nil {
		return err
	}
	// The staging directory is root's alone until it is renamed into place
	// and gets the tree's own mode.
	if err := os.Mkdir(t.dir, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(t.Root(), 0o755); err != nil {
		return err
	}
	return os.Mkdir(t.Work(), 0o700)
}

// checkReplace fails if name exists and may not be replaced.
func (t *Txn) checkReplace() error {
	if _, err := os.Lstat(t.s.Path(t.name)); err != nil {
		return nil
	}
	if !t.force {
		return &errdefs.Error{Kind: errdefs.Rootfs, Name: t.name, Err: errdefs.ErrExists, Hint: errdefs.HintForce}
	}
	users, err := t.s.users()
	if err != nil {
		return err
	}
	if by := users[t.name]; len(by) > 0 {
		return errInUse(t.name, by)
	}
	if apps := t.s.Apps(t.name); len(apps) > 0 {
		return errBaseOf(t.name, apps)
	}
	return nil
}

// Root is the tree being built.
func (t *Txn) Root() string { return filepath.Join(t.dir, "rootfs") }

// Work is scratch space that Commit and Abort delete.
func (t *Txn) Work() string { return filepath.Join(t.dir, "work") }

// DiskDir is the work directory for diskimage.Mount; whatever a killed
// import leaves attached there is undone by Abort and GC.
func (t *Txn) DiskDir() string { return diskDir(t.dir) }

func diskDir(staging string) string { return filepath.Join(staging, "work", "disk") }

// Commit puts the tree in place as rootfs name, described by info (Name,
// Size and Created are filled in here), and ends the transaction.
func (t *Txn) Commit(info Info) (Info, error) {
	defer t.lock.Unlock()
	if err := t.commit(&info); err != nil {
		t.abort()
		return Info{}, err
	}
	return info, nil
}

func (t *Txn) commit(info *Info) error {
	if err := diskimage.Cleanup(t.DiskDir()); err != nil {
		return err
	}
	if err := os.RemoveAll(t.Work()); err != nil {
		return err
	}
	size, err := diskUsage(t.Root())
	if err != nil {
		return err
	}
	// Seconds, as the sidecar keeps them, so that this Info and a later
	// Get say the same.
	info.Name, info.Size, info.Created = t.name, size, time.Unix(time.Now().Unix(), 0)
	info.Containers = []string{}
	if err := t.checkReplace(); err != nil {
		return err
	}
	// The tree is on disk before it appears: after a crash, a rootfs is
	// either whole or absent, never one with files the kernel had not yet
	// written (on ext4 the sidecar's fsync below would force this anyway).
	if err := syncfs(t.Root()); err != nil {
		return err
	}
	if _, err := os.Lstat(t.s.Path(t.name)); err == nil {
		if err := t.s.discard(t.name); err != nil {
			return err
		}
	}
	// The sidecar goes first: a crash right after leaves a sidecar without
	// a tree, which GC drops, never a tree without its description.
	if err := atomicfile.Write(t.s.layout.RootfsMeta(t.name), marshalMeta(*info), 0o644); err != nil {
		return err
	}
	if err := os.Rename(t.Root(), t.s.Path(t.name)); err != nil {
		return err
	}
	return os.Remove(t.dir)
}

// Abort deletes everything the transaction made. It is safe to call after
// Commit, which makes it a no-op, so callers can defer it.
func (t *Txn) Abort() {
	l := t.lock
	if l == nil {
		return
	}
	t.abort() // which forgets the lock
	l.Unlock()
}

func (t *Txn) abort() {
	// Best effort: what is left is a dead staging directory for GC.
	if diskimage.Cleanup(t.DiskDir()) == nil {
		os.RemoveAll(t.dir)
	}
	t.lock = nil
}

// GC removes what dead imports and removals left behind: staging
// directories (after undoing mounts and devices below them) and sidecars
// without a tree. Only names with such leftovers are locked, and only
// when no one holds them: a held lock means the staging directory is work
// in progress. Writers run it; readers never do, since it takes
// exclusive locks.
func (s Store) GC() error {
	ents, err := os.ReadDir(s.layout.FsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range ents {
		name, ok := s.leftoverOf(e.Name())
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		l, err := s.lock(name, false, 0)
		if err != nil {
			continue // busy: not a leftover
		}
		err = s.gcName(name)
		l.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// leftoverOf returns the rootfs name of an entry of the store that may be
// a leftover: a staging directory .NAME.KIND-PID, or the sidecar
// .NAME.meta of a tree that is not there.
func (s Store) leftoverOf(entry string) (string, bool) {
	rest, ok := strings.CutPrefix(entry, ".")
	if !ok {
		return "", false
	}
	name, suffix, ok := strings.Cut(rest, ".")
	if !ok || names.Validate(name) != nil {
		return "", false
	}
	if suffix == "meta" {
		_, err := os.Lstat(s.Path(name))
		return name, errors.Is(err, fs.ErrNotExist)
	}
	return name, true
}

// gcName cleans the leftovers of name; the caller holds its lock.
func (s Store) gcName(name string) error {
	for _, kind := range []string{"import", "remove"} {
		dirs, err := filepath.Glob(s.layout.StagingPattern(name, kind))
		if err != nil {
			return err
		}
		for _, d := range dirs {
			// A disk image import may have died with its image mounted.
			if err := diskimage.Cleanup(diskDir(d)); err != nil {
				return fmt.Errorf("cleaning up %s: %w", d, err)
			}
			if err := os.RemoveAll(d); err != nil {
				return fmt.Errorf("cleaning up %s: %w", d, err)
			}
		}
	}
	if _, err := os.Lstat(s.Path(name)); errors.Is(err, fs.ErrNotExist) {
		if err := os.Remove(s.layout.RootfsMeta(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// diskUsage is the space the tree at root takes, counting hard links once.
func diskUsage(root string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Nlink > 1 && !d.IsDir() {
			k := inode{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// syncfs writes out everything cached for the filesystem that holds dir.
func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
