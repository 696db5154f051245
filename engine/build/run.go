package build

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/buildfile"
	"github.com/sdme/sdme/engine/containers"
	"github.com/sdme/sdme/engine/datadir"
	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/printable"
	"github.com/sdme/sdme/engine/progress"
)

// machineStopTimeout bounds a build machine's power-off.
const machineStopTimeout = 20 * time.Second

// briefWait is how long a build waits for the cache's lock, which a
// collection holds for as long as it deletes.
const briefWait = time.Minute

// run is a build's working directory, runs/ID: the upper and work
// directories of the step being made and the mount point of its tree;
// runs/ID.lock says the build is alive. Its machine is sdme-build-ID.
type run struct {
	id, dir string
	lock    *lock.Lock
}

func (b *Builder) newRun() (*run, error) {
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(raw)
	dir := filepath.Join(b.layout.BuildDir(), "runs", id)
	// The lock before the directory: a sweep only looks at directories,
	// so it never finds one whose lock is not yet taken.
	l, err := lock.Exclusive(dir+".lock", "build "+id, 0)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		l.Unlock()
		return nil, err
	}
	return &run{id: id, dir: dir, lock: l}, nil
}

func (r *run) upper() string  { return filepath.Join(r.dir, "upper") }
func (r *run) work() string   { return filepath.Join(r.dir, "work") }
func (r *run) merged() string { return filepath.Join(r.dir, "merged") }
func (r *run) stage() string  { return filepath.Join(r.dir, "stage") }

// machine is the name of the run's machine, and its unit.
func (r *run) machine() string { return "sdme-build-" + r.id }
func (r *run) unit() string    { return r.machine() + ".service" }

// remove undoes whatever the run still has: its machine, its mount, its
// directory.
func (r *run) remove(ctx context.Context) {
	undo(ctx, r.dir, r.unit())
	os.Remove(r.dir + ".lock") // a name no other build will take
	r.lock.Unlock()
}

// undo stops a run's machine, unmounts its tree and deletes its
// directory: of this build, or of one that was killed.
func undo(ctx context.Context, dir, unit string) {
	if sc, err := deps.Find("systemctl"); err == nil {
		sctx, cancel := context.WithTimeout(ctx, 2*machineStopTimeout)
		exec.CommandContext(sctx, sc[0], "stop", unit).Run()
		cancel()
	}
	unix.Unmount(filepath.Join(dir, "merged"), unix.MNT_DETACH)
	removeTree(dir)
}

// Sweep undoes the runs of builds that died: those whose lock is free.
// It is cheap when there are none.
func (b *Builder) Sweep(ctx context.Context) error {
	if err := datadir.Prepare(b.layout); err != nil {
		return err
	}
	runs := filepath.Join(b.layout.BuildDir(), "runs")
	ents, err := os.ReadDir(runs)
	if err != nil {
		return nil // none yet
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(runs, e.Name())
		l, err := lock.Exclusive(dir+".lock", "build "+e.Name(), 0)
		if err != nil {
			continue // alive
		}
		undo(ctx, dir, "sdme-build-"+e.Name()+".service")
		os.Remove(dir + ".lock")
		l.Unlock()
	}
	return nil
}

// mount mounts the overlay of lowers (top first) at the run's mount
// point, with a fresh upper directory; read-only without one.
func (r *run) mount(lowers []string, writable bool) error {
	opts := "lowerdir=" + strings.Join(lowers, ":")
	flags := uintptr(0)
	if writable {
		for _, d := range []string{r.upper(), r.work()} {
			if err := removeTree(d); err != nil {
				return err
			}
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
		opts += ",upperdir=" + r.upper() + ",workdir=" + r.work()
	} else {
		flags = unix.MS_RDONLY
	}
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("%d layers are more than one overlay takes: put some RUN steps together", len(lowers))
	}
	if err := os.MkdirAll(r.merged(), 0o755); err != nil {
		return err
	}
	if err := unix.Mount("overlay", r.merged(), "overlay", flags, opts); err != nil {
		return fmt.Errorf("mount the build's layers: %w", err)
	}
	return nil
}

func (r *run) unmount() error {
	if err := unix.Unmount(r.merged(), 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount the build's layers: %w", err)
	}
	return nil
}

// step makes the layer of st in the run's upper directory.
// The upper directory is committed only once its overlay is gone: a
// failed unmount fails the step.
func (r *run) step(ctx context.Context, b *Builder, st buildfile.Step, ctxDir string, lowers []string, rep progress.Reporter) (err error) {
	if err := r.mount(lowers, true); err != nil {
		return err
	}
	defer func() {
		if uerr := r.unmount(); err == nil {
			err = uerr
		}
	}()
	switch st.Op {
	case buildfile.OpRun:
		return r.runStep(ctx, b, st, rep)
	case buildfile.OpCopy:
		return r.copyStep(ctx, st, ctxDir, rep)
	case buildfile.OpWorkdir:
		return r.nspawn(ctx, nil, []string{"mkdir", "-p", "--", st.Workdir}, rep)
	}
	return fmt.Errorf("no layer for %s", st.Op)
}

// exitError is a command of a step that exited with a failure status.
type exitError struct{ status int }

func (e *exitError) Error() string { return fmt.Sprintf("exited with status %d", e.status) }

// nspawnCommon are the options of every nspawn of a build: nothing of
// the host's is written into the layer (resolv.conf is bound, the
// timezone left alone, the journal kept in memory).
var nspawnCommon = []string{
	"--quiet", "--resolv-conf=bind-host", "--timezone=off", "--link-journal=no",
	"--tmpfs=/var/log/journal",
}

// keepTmp and the masked tmp.mount leave /tmp as the image has it, not
// a tmpfs over it (nspawn's, then systemd's): a file COPY puts there is
// for the RUN after it, as in a Dockerfile.
const keepTmp = "--setenv=SYSTEMD_NSPAWN_TMPFS_TMP=0"

// runStep boots the layers and runs the step's command in the machine,
// with the environment and working directory of the file up to there.
func (r *run) runStep(ctx context.Context, b *Builder, st buildfile.Step, rep progress.Reporter) error {
	progs, err := deps.Find("systemd-run", "systemd-nspawn")
	if err != nil {
		return err
	}
	boot := append([]string{
		"--unit=" + r.unit(), "--quiet", "--collect", "--service-type=notify",
		"--property=KillMode=mixed", "--property=Delegate=yes", "--property=Slice=machine.slice", keepTmp,
		fmt.Sprintf("--property=TimeoutStartSec=%ds", int(b.bootTimeout().Seconds())),
		// A build's machine has nothing to save: past this, systemd kills
		// it, so that a stop (of a killed build's, too) always ends.
		"--property=TimeoutStopSec=" + strconv.Itoa(int(machineStopTimeout.Seconds())) + "s",
		"--", progs[1], "--boot", "--notify-ready=yes", "--keep-unit",
		"--machine=" + r.machine(), "--directory=" + r.merged(),
	}, nspawnCommon...)
	boot = append(boot, "--", "systemd.mask=tmp.mount")
	// Not cancelled midway: a systemd-run killed after it asked for the
	// unit, before systemd made it, would leave a machine that the
	// cleanup's stop missed. The boot is bounded by TimeoutStartSec.
	if out, err := exec.Command(progs[0], boot...).CombinedOutput(); err != nil {
		return fmt.Errorf("boot the build's machine: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opts := []string{"--property=WorkingDirectory=" + st.Workdir}
	for _, e := range st.EnvAll {
		opts = append(opts, "--setenv="+e.Name+"="+e.Value)
	}
	out := lineWriter(rep)
	status, err := containers.RunIn(ctx, r.machine(), opts, st.Argv, containers.Stdio{Out: out, Err: out})
	out.Close()
	if err == nil && status != 0 {
		err = &exitError{status}
	}
	if serr := r.stopMachine(ctx); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	return pruneBoot(r.upper())
}

// stopMachine powers the machine off and waits for it.
func (r *run) stopMachine(ctx context.Context) error {
	sc, err := deps.Find("systemctl")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*machineStopTimeout)
	defer cancel()
	if out, err := exec.CommandContext(sctx, sc[0], "stop", r.unit()).CombinedOutput(); err != nil {
		return fmt.Errorf("stop the build's machine: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// bootLeftovers are files a boot writes that belong to no step.
var bootLeftovers = []string{"var/lib/systemd/random-seed", "var/lib/systemd/credential.secret"}

// pruneBoot removes what the boot itself left in a layer. The layer is
// the guest's to shape: its directories are opened without following a
// symlink, so that none can point the removal at the host.
func pruneBoot(upper string) error {
	root, err := unix.Open(upper, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	for _, p := range bootLeftovers {
		dir, err := unix.Openat2(root, filepath.Dir(p), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			continue // not there, or not a plain directory: nothing of the boot's
		}
		err = unix.Unlinkat(dir, filepath.Base(p), 0)
		unix.Close(dir)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}

// nspawn runs argv in the run's tree, not booted, with binds (host:inside,
// read-only): the image's paths resolve inside the image.
func (r *run) nspawn(ctx context.Context, binds []string, argv []string, rep progress.Reporter) error {
	progs, err := deps.Find("systemd-run", "systemd-nspawn")
	if err != nil {
		return err
	}
	// A service of its own, as the machine of a RUN: nspawn needs a
	// delegated cgroup, which the caller (a shell's scope) may not have.
	args := []string{
		"--unit=" + r.unit(), "--quiet", "--collect", "--pipe", "--wait", "--service-type=exec",
		"--property=Delegate=yes", "--property=Slice=machine.slice", keepTmp,
		"--property=TimeoutStopSec=" + strconv.Itoa(int(machineStopTimeout.Seconds())) + "s",
		"--", progs[1], "--register=no", "--keep-unit", "--console=pipe", "--directory=" + r.merged(),
	}
	args = append(args, nspawnCommon...)
	for _, b := range binds {
		args = append(args, "--bind-ro="+b)
	}
	// systemd expands $VAR in a transient unit's command line.
	args = append(append(args, "--"), containers.Literal(argv)...)
	cmd := exec.CommandContext(ctx, progs[0], args...)
	cmd.WaitDelay = 2 * time.Second
	out := lineWriter(rep)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitError{ee.ExitCode()}
	}
	return err
}

// flatten copies the merged view of lowers into dst.
func (r *run) flatten(ctx context.Context, lowers []string, dst string, rep progress.Reporter) error {
	src := lowers[0]
	if len(lowers) > 1 {
		if err := r.mount(lowers, false); err != nil {
			return err
		}
		defer r.unmount()
		src = r.merged()
	}
	// copytree fills an empty directory and gives it the source's mode.
	return copyTree(ctx, src, dst, rep)
}

// maxLine bounds a line of a command's output that is reported.
const maxLine = 4096

// lineWriter reports each line written to it as a log event. Close
// reports a last line without a newline.
func lineWriter(rep progress.Reporter) io.WriteCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if len(line) > maxLine {
				line = line[:maxLine] + "..."
			}
			progress.Logf(rep, "%s", printable.Line(line))
		}
		io.Copy(io.Discard, pr) // a line past the buffer: drain
	}()
	return &waitCloser{pw, done}
}

type waitCloser struct {
	*io.PipeWriter
	done chan struct{}
}

func (w *waitCloser) Close() error {
	w.PipeWriter.Close()
	<-w.done
	return nil
}
