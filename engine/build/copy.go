package build

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/buildfile"
	"github.com/sdme/sdme/engine/copytree"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/progress"
)

// copyIn is the script that puts the staged sources in place inside the
// tree, given triples of kind (dir or file), staged path and target. A
// directory's entries go into the target, which keeps its own mode and
// owner, as with Docker's COPY.
const copyIn = `set -e
while [ $# -gt 0 ]; do
  if [ "$1" = dir ]; then
    mkdir -p -- "$3"
    find "$2" -mindepth 1 -maxdepth 1 -exec cp -a -- {} "$3/" \;
  else
    mkdir -p -- "${3%/*}/"
    cp -a -- "$2" "$3"
  fi
  shift 3
done`

// stageDir is where the staged sources show inside the tree.
const stageDir = "/run/sdme-copy"

// copyStep copies the step's sources from the context into the tree:
// first into a staging directory owned by root, read inside the context
// whatever its symlinks say; then from inside the tree (copyIn), so that
// the destination resolves as the image's own paths do.
func (r *run) copyStep(ctx context.Context, st buildfile.Step, ctxDir string, rep progress.Reporter) error {
	if err := removeTree(r.stage()); err != nil {
		return err
	}
	if err := os.Mkdir(r.stage(), 0o755); err != nil {
		return err
	}
	var matches []string
	for _, src := range st.Sources {
		m, err := buildfile.Expand(ctxDir, src)
		if err != nil {
			return err
		}
		matches = append(matches, m...)
	}
	intoDir := st.DestDir || len(matches) > 1
	if fi, err := intree.Stat(r.merged(), st.Dest); err == nil && fi.IsDir() {
		intoDir = true
	}
	var args []string
	for i, rel := range matches {
		staged := filepath.Join(r.stage(), strconv.Itoa(i))
		isDir, err := stageOne(ctx, ctxDir, rel, staged)
		if err != nil {
			return fmt.Errorf("COPY %s: %w", rel, err)
		}
		inside := path.Join(stageDir, strconv.Itoa(i))
		switch {
		case isDir:
			args = append(args, "dir", inside, st.Dest)
		case intoDir:
			args = append(args, "file", inside, path.Join(st.Dest, path.Base(rel)))
		default:
			args = append(args, "file", inside, st.Dest)
		}
	}
	if err := chownRoot(r.stage()); err != nil {
		return err
	}
	return r.nspawn(ctx, []string{r.stage() + ":" + stageDir}, append([]string{"/bin/sh", "-c", copyIn, "sh"}, args...), rep)
}

// stageOne copies context/rel to staged: a directory's tree, a regular
// file, or a symlink as a symlink. It reports whether it was a directory.
func stageOne(ctx context.Context, ctxDir, rel, staged string) (bool, error) {
	fd, err := openInContext(ctxDir, rel)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	self := "/proc/self/fd/" + strconv.Itoa(fd)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := os.Mkdir(staged, 0o755); err != nil {
			return false, err
		}
		return true, copytree.Copy(ctx, self, staged, nil)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return false, err
		}
		return false, os.Symlink(string(buf[:n]), staged)
	case unix.S_IFREG:
		src, err := os.Open(self)
		if err != nil {
			return false, err
		}
		defer src.Close()
		dst, err := os.OpenFile(staged, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(st.Mode&0o7777))
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return false, err
		}
		if err := dst.Chmod(fs.FileMode(st.Mode & 0o777)); err != nil { // umask
			dst.Close()
			return false, err
		}
		return false, dst.Close()
	}
	return false, fmt.Errorf("not a regular file, directory or symlink")
}

// openInContext opens rel below context without leaving it, and without
// following rel itself if it is a symlink.
func openInContext(ctxDir, rel string) (int, error) {
	root, err := unix.Open(ctxDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	return unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// chownRoot makes root the owner of everything below dir: COPY's files
// are root's in the tree, whoever owns them in the context.
func chownRoot(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
		// chown clears the set-ID bits of a file
		if fi.Mode().IsRegular() && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			return os.Chmod(p, fi.Mode())
		}
		return nil
	})
}
