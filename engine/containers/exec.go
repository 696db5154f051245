package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdme/sdme/engine/deps"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/layout"
)

// Stdio are the streams a command in a container reads and writes. When
// they are *os.File values (a terminal), the child gets them directly.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// runningContainer checks that name is a running container.
func (e *Engine) runningContainer(ctx context.Context, name string) error {
	if err := e.readyFor(name); err != nil {
		return err
	}
	if _, err := e.read(name); err != nil {
		return err
	}
	up, err := e.Running(ctx, name)
	if err != nil {
		return err
	}
	if !up {
		return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: fmt.Errorf("not running: %w", errdefs.ErrFailedPrecondition), Hint: errdefs.HintStart}
	}
	return nil
}

// Exec runs argv in the running container as a transient unit of its
// systemd (systemd-run --machine), with stdin, stdout and stderr piped
// through, and returns the command's exit status.
func (e *Engine) Exec(ctx context.Context, name string, argv []string, user string, io Stdio) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("no command to run: %w", errdefs.ErrInvalidArgument)
	}
	if err := e.runningContainer(ctx, name); err != nil {
		return 0, err
	}
	return e.systemdRun(ctx, name, user, false, argv, io)
}

// systemdRun runs argv as a transient unit in the container. A login
// starts in the user's home directory.
func (e *Engine) systemdRun(ctx context.Context, name, user string, login bool, argv []string, io Stdio) (int, error) {
	var props []string
	if user != "" {
		// With User= set, systemd also sets HOME, SHELL, USER and LOGNAME.
		props = append(props, "--uid="+user)
	}
	if login {
		props = append(props, "--property=WorkingDirectory=~")
	}
	return RunIn(ctx, name, props, argv, io)
}

// RunIn runs argv as a transient unit of machine name's systemd,
// with systemd-run's options opts. The unit outlives systemd-run, which
// hands it its stdin and stdout: when ctx is cancelled (Ctrl-C), the unit
// is stopped too, or a follower (tail -f, journalctl -f) would go on
// holding the caller's terminal or pipe.
func RunIn(ctx context.Context, name string, opts, argv []string, io Stdio) (int, error) {
	p, err := deps.Find("systemd-run")
	if err != nil {
		return 0, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return 0, err
	}
	unit := "sdme-exec-" + hex.EncodeToString(id) + ".service"
	args := append([]string{"--machine=" + name, "--unit=" + unit, "--pipe", "--wait", "--quiet", "--collect", "--service-type=exec"}, opts...)
	args = append(append(args, "--"), Literal(argv)...)
	status, err := run(ctx, p[0], args, io)
	if ctx.Err() != nil {
		if sc, err := deps.Find("systemctl"); err == nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			exec.CommandContext(sctx, sc[0], "--machine="+name, "--no-block", "stop", unit).Run()
		}
	}
	return status, err
}

// Literal keeps systemd from expanding $VAR in a command it runs: it
// expands a transient unit's arguments as a unit file's ExecStart=
// (systemd-run 254 added --expand-environment=no to say otherwise, which
// older ones lack), and "$$" is a dollar sign. The program's path is
// never expanded, so it stays as it is.
func Literal(argv []string) []string {
	out := append([]string(nil), argv...)
	for i := 1; i < len(out); i++ {
		out[i] = strings.ReplaceAll(out[i], "$", "$$")
	}
	return out
}

// JoinOptions says whom to log in as and what to run.
type JoinOptions struct {
	// User to log in as; empty for the default (see Join).
	User string
	// SudoUser is the $SUDO_USER of the caller, used by default for host
	// clones when join_as_sudo_user is set.
	SudoUser string
	// Argv is the command; empty for a login shell.
	Argv []string
	// TTY says the caller's stdin and stdout are a terminal.
	TTY bool
}

// JoinUser is the user Join logs in as: the one asked for, else the
// caller's $SUDO_USER for a host clone (when join_as_sudo_user is on and
// that user exists in the container), else root.
func (e *Engine) JoinUser(name string, opts JoinOptions) string {
	if opts.User != "" {
		return opts.User
	}
	c, err := e.read(name)
	if err != nil || c.Spec.Rootfs != "" || !e.cfg.JoinAsSudoUser || opts.SudoUser == "" || opts.SudoUser == "root" {
		return "root"
	}
	if hasUser(e.layout.Merged(name), opts.SudoUser) {
		return opts.SudoUser
	}
	return "root"
}

// Join opens a login session in the running container: machinectl shell on
// a terminal; without one, the same login shell or command through
// systemd-run --pipe, so that pipes and scripts work. It returns the
// session's exit status.
func (e *Engine) Join(ctx context.Context, name string, opts JoinOptions, io Stdio) (int, error) {
	if err := e.runningContainer(ctx, name); err != nil {
		return 0, err
	}
	user := e.JoinUser(name, opts)
	if !opts.TTY {
		argv := opts.Argv
		if len(argv) == 0 {
			argv = []string{"/bin/sh", "-c", `exec "${SHELL:-/bin/sh}" -l`}
		}
		return e.systemdRun(ctx, name, user, true, argv, io)
	}
	p, err := deps.Find("machinectl")
	if err != nil {
		return 0, err
	}
	args := append([]string{"shell", user + "@" + name}, opts.Argv...)
	return run(ctx, p[0], args, io)
}

// Logs writes the journal of the container's unit: nspawn's messages and
// the guest's console, boot included. It works on stopped containers too.
func (e *Engine) Logs(ctx context.Context, name string, follow bool, lines int, io Stdio) error {
	if err := e.readyFor(name); err != nil {
		return err
	}
	if _, err := e.read(name); err != nil {
		return err
	}
	p, err := deps.Find("journalctl")
	if err != nil {
		return err
	}
	args := append([]string{"--no-pager", "-u", layout.Unit(name)}, journalArgs(follow, lines)...)
	status, err := run(ctx, p[0], args, io)
	if err == nil && status != 0 && ctx.Err() == nil {
		return fmt.Errorf("journalctl exited with status %d", status)
	}
	return err
}

// journalArgs asks journalctl for the last lines lines (all if < 0),
// following if asked.
func journalArgs(follow bool, lines int) []string {
	var args []string
	if lines >= 0 {
		args = append(args, "-n", strconv.Itoa(lines))
	}
	if follow {
		args = append(args, "-f")
	}
	return args
}

// run runs a program with io and returns its exit status. Cancelling ctx
// (Ctrl-C) ends the program.
func run(ctx context.Context, path string, args []string, io Stdio) (int, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.In, io.Out, io.Err
	// systemd-run --pipe hands its pipes to the unit, which may hold them
	// after systemd-run is gone: do not wait for them past a cancel.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil // as a shell reports it
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", filepath.Base(path), err)
	}
	return 0, nil
}

// maxPasswd bounds the guest's passwd file; a large site's is a few MiB.
const maxPasswd = 16 << 20

// hasUser reports whether the passwd file of the guest whose root is
// mounted at root lists user. The guest's root may point etc/passwd
// anywhere, at a FIFO or a device: it is read inside that root, and only
// if it is a regular file of bounded size (package intree).
func hasUser(root, user string) bool {
	data, err := intree.ReadFile(root, "etc/passwd", maxPasswd)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if n, _, ok := strings.Cut(line, ":"); ok && n == user {
			return true
		}
	}
	return false
}
