package containers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/state"
	"github.com/sdme/sdme/engine/systemd"
)

// Start boots a container and returns once it is up: systemd's start job
// for the unit ends when the guest's init reports READY=1, or fails when
// the guest exits or the timeout (0 for boot_timeout) passes, in which case
// systemd has already stopped it again. Starting a running container does
// nothing.
func (e *Engine) Start(ctx context.Context, name string, timeout time.Duration) error {
	l, c, sd, err := e.open(ctx, name, true)
	if err != nil {
		return err
	}
	defer l.Unlock()
	unit := layout.Unit(name)
	u, err := sd.UnitState(ctx, unit)
	if err != nil {
		return err
	}
	if u.ActiveState == "active" {
		return nil
	}
	secs := e.cfg.BootTimeout
	if timeout > 0 {
		secs = int((timeout + time.Second - 1) / time.Second)
	}
	if err := runnable(c); err != nil {
		return err
	}
	// Refreshed at every start: the host's filesystems may have changed.
	p, err := e.plan(name, c.Spec, secs)
	if err != nil {
		return fmt.Errorf("container %q: %w", name, err)
	}
	changed, err := e.writeUnits(name, p)
	if err != nil {
		return err
	}
	if changed || u.NeedDaemonReload {
		if err := sd.Reload(ctx); err != nil {
			return err
		}
	}
	if u.ActiveState == "failed" {
		sd.ResetFailed(ctx, unit)
	}
	since := time.Now()
	// systemd enforces the timeout itself; this deadline only guards
	// against a systemd that never answers.
	jctx, cancel := context.WithTimeout(ctx, time.Duration(min(int64(secs), config.MaxSeconds-30)+30)*time.Second)
	defer cancel()
	err = sd.StartUnit(jctx, unit)
	var je *systemd.JobError
	if errors.As(err, &je) {
		// A start timeout fails the job; the service says why.
		if res, rerr := sd.ServiceResult(ctx, unit); rerr == nil && res == "timeout" {
			je.Result = res
		}
	}
	switch {
	case errors.As(err, &je) && je.Result == "timeout":
		return fmt.Errorf("container %q did not boot within %ds; it was stopped. Its last log lines:\n%s%w",
			name, secs, logTail(unit, since), errdefs.ErrBootFailed)
	case errors.As(err, &je):
		return fmt.Errorf("container %q failed to boot (start job %s). Its last log lines:\n%s%w",
			name, je.Result, logTail(unit, since), errdefs.ErrBootFailed)
	case err != nil:
		return err
	}
	return nil
}

// runnable refuses a container whose state holds settings this version
// does not know (written by another version of sdme: a private network,
// binds, a user namespace): started without them, it would run with less
// isolation or other data than it was made with. Its spec must still be
// valid on this host (a bound host path may have gone).
func runnable(c state.Container) error {
	if keys := c.Unknown(); len(keys) > 0 {
		return &errdefs.Error{Kind: errdefs.Container, Name: c.Name, Err: fmt.Errorf(
			"has settings this version of sdme does not know: %s; it would run without them: %w",
			strings.Join(keys, ", "), errdefs.ErrFailedPrecondition)}
	}
	if err := c.Spec.Check(); err != nil {
		// Not the check's class, invalid argument: the caller gave only a
		// name; the container's own settings no longer fit the host (a
		// bound path has gone) or were damaged.
		return &errdefs.Error{Kind: errdefs.Container, Name: c.Name,
			Err: fmt.Errorf("%v: %w", err, errdefs.ErrFailedPrecondition)}
	}
	return nil
}

// logTail returns the unit's last journal lines since the given time, for
// an error message. Empty if journalctl is missing or finds nothing.
func logTail(unit string, since time.Time) string {
	out, err := exec.Command("journalctl", "--no-pager", "--quiet", "-o", "short-monotonic", "-n", "20",
		"-u", unit, "--since", fmt.Sprintf("@%d", since.Unix())).Output()
	if err != nil || len(out) == 0 {
		return "  (no log lines; see journalctl -u " + unit + ")\n"
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// Timeout converts a timeout in whole seconds, as varlink clients and
// config files give them, to a Duration; 0 or less means the default.
func Timeout(seconds int64) (time.Duration, error) {
	if seconds > config.MaxSeconds {
		return 0, fmt.Errorf("timeout of %d seconds: at most %d are allowed: %w", seconds, config.MaxSeconds, errdefs.ErrInvalidArgument)
	}
	return time.Duration(max(seconds, 0)) * time.Second, nil
}

// StopMode says how to stop a container.
type StopMode int

const (
	// StopGraceful halts the guest the way nspawn does on SIGTERM: it sends
	// SIGRTMIN+3 to the guest's init, which runs halt.target.
	StopGraceful StopMode = iota
	// StopTerminate asks machined to terminate the machine.
	StopTerminate
	// StopKill sends SIGKILL to the container's init, which ends every
	// process of its PID namespace at once.
	StopKill
)

// defaultTimeout is how long Stop waits in mode unless told otherwise.
func (m StopMode) defaultTimeout() time.Duration {
	switch m {
	case StopTerminate:
		return 30 * time.Second
	case StopKill:
		return 15 * time.Second
	}
	return 90 * time.Second
}

// ParseStopMode reads a stop mode by name: graceful, term or kill.
func ParseStopMode(s string) (StopMode, error) {
	switch s {
	case "graceful":
		return StopGraceful, nil
	case "term":
		return StopTerminate, nil
	case "kill":
		return StopKill, nil
	}
	return 0, fmt.Errorf("stop mode %q: want graceful, term or kill: %w", s, errdefs.ErrInvalidArgument)
}

// Restart stops a container (as Stop does) and boots it again (as Start
// does); zero timeouts mean the defaults.
func (e *Engine) Restart(ctx context.Context, name string, mode StopMode, stopTimeout, bootTimeout time.Duration) error {
	if err := e.Stop(ctx, name, mode, stopTimeout); err != nil {
		return err
	}
	return e.Start(ctx, name, bootTimeout)
}

// sigHalt is SIGRTMIN+3 as systemd sees it. Computed from the kernel's
// numbering (32) plus the two real-time signals glibc reserves, not from
// this process's libc, which may differ from the guest's.
const sigHalt = syscall.Signal(37)

// Stop stops a running container and waits until its unit is inactive,
// which includes unmounting its overlay. Stopping a stopped container does
// nothing. Stop takes no lock, so it can interrupt a start that hangs.
func (e *Engine) Stop(ctx context.Context, name string, mode StopMode, timeout time.Duration) error {
	if err := e.readyFor(name); err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = mode.defaultTimeout()
	}
	// Only whether it exists: a damaged state file must not keep a
	// container from being stopped (and removed).
	if _, err := os.Lstat(e.layout.StateFile(name)); errors.Is(err, fs.ErrNotExist) {
		return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: errdefs.ErrNotFound}
	}
	sd, err := e.systemd(ctx)
	if err != nil {
		return err
	}
	unit := layout.Unit(name)
	u, err := sd.UnitState(ctx, unit)
	if err != nil {
		return err
	}
	switch u.ActiveState {
	case "inactive", "":
		return nil
	case "failed":
		return sd.ResetFailed(ctx, unit)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch mode {
	case StopGraceful:
		err = sd.KillMachine(ctx, name, "leader", sigHalt)
	case StopTerminate:
		err = sd.TerminateMachine(ctx, name)
	case StopKill:
		// The init, not "all": nspawn must live to undo what it set up on
		// the host (the port forwards in nftables, the veth), which it does
		// once the container is gone; killed, it would leave a dead
		// container's forwards taking the host's ports.
		if err = sd.KillMachine(ctx, name, "leader", syscall.SIGKILL); err == nil {
			// So that a restart policy does not bring it back.
			err = sd.StopUnit(wctx, unit)
		}
	}
	if err != nil {
		// Not registered yet (still mounting) or already gone: let systemd
		// stop the unit, which ends nspawn and with it the guest.
		if err = sd.StopUnit(wctx, unit); err != nil && wctx.Err() == nil {
			return err
		}
	}
	if err := e.waitInactive(wctx, sd, unit); err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return &errdefs.Error{Kind: errdefs.Container, Name: name,
				Err: fmt.Errorf("did not stop within %s: %w", timeout, errdefs.ErrFailedPrecondition), Hint: errdefs.HintKill}
		}
		return err
	}
	return sd.ResetFailed(ctx, unit)
}

// waitInactive polls until the unit is inactive or failed.
func (e *Engine) waitInactive(ctx context.Context, sd *systemd.Client, unit string) error {
	for {
		u, err := sd.UnitState(ctx, unit)
		if err != nil {
			return err
		}
		if u.ActiveState == "inactive" || u.ActiveState == "failed" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Running reports whether the container's unit is active.
func (e *Engine) Running(ctx context.Context, name string) (bool, error) {
	if err := names.Validate(name); err != nil {
		return false, err
	}
	sd, err := e.systemd(ctx)
	if err != nil {
		return false, err
	}
	u, err := sd.UnitState(ctx, layout.Unit(name))
	if err != nil {
		return false, err
	}
	return u.ActiveState == "active", nil
}
