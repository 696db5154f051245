// Package build makes a rootfs from a build file (package buildfile): a
// sequence of steps, each run on the layers of the steps before it.
//
// Every step that changes files is a layer of its own: the upper directory
// of an overlay whose lower layers are the earlier steps' and the FROM
// rootfs. RUN boots the layers as a machine (systemd-nspawn --boot in a
// transient unit) and runs the command in it with systemd-run, so that
// package managers and systemctl enable work as on a real system; COPY
// and WORKDIR change the tree from inside it, with systemd-nspawn running
// cp or mkdir, so that the image's own symlinks resolve in the image.
//
// A step's layer is kept under its cache key (buildfile.StepKey), so a
// later build that starts the same way reuses it. The result is the
// layers flattened into an ordinary rootfs, committed as an import is
// (rootfs.Txn). A build killed at any point leaves a run directory whose
// lock is free; the next build removes it, and the machine and mount it
// had (sweep).
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/buildfile"
	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/copytree"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
)

// Options say what to build.
type Options struct {
	// Name is the rootfs to make.
	Name string
	// File is the build file; its directory is the build context, which
	// COPY reads from.
	File string
	// NoCache makes every step again.
	NoCache bool
	// Force replaces a rootfs of that name that was built otherwise.
	Force bool
}

// Result is what a build made.
type Result struct {
	Info rootfs.Info
	// UpToDate says the rootfs was built from the same file and context
	// already, and nothing was made.
	UpToDate bool
}

// Builder builds in one data directory.
type Builder struct {
	layout layout.Layout
	fs     rootfs.Store
	cfg    config.Config
}

// New returns the builder of cfg's data directory.
func New(cfg config.Config) *Builder {
	return &Builder{layout: layout.Layout{Datadir: cfg.Datadir}, fs: rootfs.New(cfg.Datadir), cfg: cfg}
}

// maxBuildFile bounds the build file read (the parser bounds it too).
const maxBuildFile = 1 << 20

// StepError is a step that failed: its place in the file, and the exit
// status of a RUN.
type StepError struct {
	File   string
	Line   int
	Text   string
	Status int // RUN's exit status; 0 when the step failed otherwise
	Err    error
}

func (e *StepError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s:%d: %s: exited with status %d", e.File, e.Line, e.Text, e.Status)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Text, e.Err)
}

func (e *StepError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return errdefs.ErrFailedPrecondition
}

// Build runs the build file of opts and commits its result as rootfs
// opts.Name. The command output of each step and the steps themselves are
// reported to rep as log lines.
func (b *Builder) Build(ctx context.Context, opts Options, rep progress.Reporter) (Result, error) {
	f, ctxFile, err := readFile(opts.File)
	if err != nil {
		return Result{}, err
	}
	defer ctxFile.Close()
	ctxDir := fdPath(ctxFile)
	if err := b.ready(ctx); err != nil {
		return Result{}, err
	}
	// Held first, then read: what is read is what the build runs on.
	fromLock, err := b.fs.Use(f.From)
	if err != nil {
		return Result{}, fmt.Errorf("%s: FROM %s: %w", f.Path, f.From, err)
	}
	defer fromLock.Unlock()
	from, err := b.fs.Get(f.From)
	if err != nil {
		return Result{}, fmt.Errorf("%s: FROM %s: %w", f.Path, f.From, err)
	}
	if from.Base != "" {
		return Result{}, &buildfile.Error{Path: f.Path, Line: f.FromLine, Msg: fmt.Sprintf("FROM %s: an OCI application cannot be built on; build on its base, %s", f.From, from.Base)}
	}

	keys, err := chain(f, ctxDir, from, b.fs.Path(f.From))
	if err != nil {
		return Result{}, err
	}
	final := keys[len(keys)-1]
	if cur, err := b.fs.Get(opts.Name); err == nil && cur.BuildKey == final && !opts.NoCache {
		progress.Logf(rep, "%s is up to date", opts.Name)
		return Result{Info: cur, UpToDate: true}, nil
	}

	txn, err := b.fs.Begin(opts.Name, opts.Force)
	if err != nil {
		return Result{}, err
	}
	defer txn.Abort()
	cache, err := b.openCache()
	if err != nil {
		return Result{}, err
	}
	defer cache.close()
	r, err := b.newRun()
	if err != nil {
		return Result{}, err
	}
	// Cleanup must happen even after Ctrl-C cancelled ctx.
	defer r.remove(context.WithoutCancel(ctx))

	lowers := []string{b.fs.Path(f.From)}
	var made []string // the layers of this build, for the cache's record
	for i, st := range f.Steps {
		key := keys[i+1]
		head := fmt.Sprintf("STEP %d/%d: %s", i+1, len(f.Steps), st.Text)
		if !producesLayer(st) {
			progress.Logf(rep, "%s", head)
			continue
		}
		made = append(made, key)
		if layer := cache.layer(key); !opts.NoCache && exists(layer) {
			progress.Logf(rep, "%s (cached)", head)
			lowers = append([]string{layer}, lowers...)
			continue
		}
		progress.Logf(rep, "%s", head)
		if err := r.step(ctx, b, st, ctxDir, lowers, rep); err != nil {
			cache.record(opts.Name, made[:len(made)-1])
			if ctx.Err() != nil {
				return Result{}, ctx.Err() // the command's status is the interrupt's
			}
			return Result{}, stepError(f.Path, st, err)
		}
		layer, err := cache.commit(key, r.upper(), opts.NoCache)
		if err != nil {
			return Result{}, err
		}
		lowers = append([]string{layer}, lowers...)
	}
	cache.record(opts.Name, made)

	progress.Logf(rep, "COMMIT %s", opts.Name)
	if err := r.flatten(ctx, lowers, txn.Root(), rep); err != nil {
		return Result{}, err
	}
	info, err := txn.Commit(rootfs.Info{
		Distro: from.Distro, Source: f.Path, Kind: "build", BuildKey: final,
	})
	if err != nil {
		return Result{}, err
	}
	cache.gc()
	return Result{Info: info}, nil
}

// stepError says which step failed: a RUN's exit status, or the error.
func stepError(file string, st buildfile.Step, err error) error {
	se := &StepError{File: file, Line: st.Line, Text: st.Text, Err: err}
	var exit *exitError
	if errors.As(err, &exit) {
		se.Status, se.Err = exit.status, nil
	}
	return se
}

// readFile parses the build file at path, opened only if it is a regular
// file (a FIFO would block, a device act), and returns it with its
// context directory, held open for the build: whoever owns the directory
// may replace it, or a directory above it, with a symlink meanwhile, and
// COPY must still read the directory the build started with. The context
// is named by its descriptor's /proc/self/fd path.
func readFile(path string) (*buildfile.File, *os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.OpenFile(filepath.Dir(abs), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("build context: %w", err)
	}
	fh, err := intree.Open(fdPath(dir), filepath.Base(abs))
	if err != nil {
		dir.Close()
		return nil, nil, fmt.Errorf("build file %s: %w", abs, err)
	}
	defer fh.Close()
	f, err := buildfile.Parse(abs, io.LimitReader(fh, maxBuildFile+1))
	if err != nil {
		dir.Close()
		return nil, nil, err
	}
	return f, dir, nil
}

// fdPath names an open file by its descriptor, which reaches the same
// inode whatever happens to its path.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// chain is the cache key of the FROM rootfs and of each step after it.
// The rootfs is known by its tree: an import of the same name later is
// another rootfs.
func chain(f *buildfile.File, ctxDir string, from rootfs.Info, fromDir string) ([]string, error) {
	// The tree's inode and change time tell one import from the next,
	// even within the second the meta's time counts in.
	var st unix.Stat_t
	if err := unix.Stat(fromDir, &st); err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%d/%d.%d/%s/%s", st.Ino, st.Ctim.Sec, st.Ctim.Nsec, from.Digest, from.BuildKey)
	keys := []string{buildfile.BaseKey(f.From, id)}
	for _, st := range f.Steps {
		content := ""
		if st.Op == buildfile.OpCopy {
			var err error
			if content, err = buildfile.ContentDigest(ctxDir, st.Sources); err != nil {
				return nil, &buildfile.Error{Path: f.Path, Line: st.Line, Msg: err.Error()}
			}
		}
		keys = append(keys, buildfile.StepKey(keys[len(keys)-1], st, content))
	}
	return keys, nil
}

// producesLayer: ENV only changes what later steps run with.
func producesLayer(st buildfile.Step) bool { return st.Op != buildfile.OpEnv }

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// ready sweeps what killed builds left behind.
func (b *Builder) ready(ctx context.Context) error {
	if err := b.Sweep(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(b.layout.BuildDir(), 0o700); err != nil {
		return err
	}
	return nil
}

// bootTimeout bounds a RUN step's boot.
func (b *Builder) bootTimeout() time.Duration {
	return time.Duration(b.cfg.BootTimeout) * time.Second
}

// copyTree copies the merged tree at src into dst, reporting the bytes.
func copyTree(ctx context.Context, src, dst string, rep progress.Reporter) error {
	t := progress.StartTask(rep, "commit", "copying the result", -1)
	err := copytree.Copy(ctx, src, dst, t.Add)
	t.Finish(err)
	return err
}
