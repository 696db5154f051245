package containers

import (
	"context"
	"fmt"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/state"
)

// appContainer reads container name and checks that it runs an OCI
// application.
func (e *Engine) appContainer(name string) (state.Container, error) {
	if err := e.readyFor(name); err != nil {
		return state.Container{}, err
	}
	c, err := e.read(name)
	if err != nil {
		return state.Container{}, err
	}
	if !c.Spec.OCIApp {
		return state.Container{}, &errdefs.Error{Kind: errdefs.Container, Name: name, Err: fmt.Errorf("its rootfs is not an OCI application: %w", errdefs.ErrFailedPrecondition)}
	}
	return c, nil
}

// ExecApp runs argv in the OCI application of the running container name:
// in the application's root, as its user, with its environment and its
// network, as a transient unit of the container's systemd placed as the
// application's service is. It returns the command's exit status.
func (e *Engine) ExecApp(ctx context.Context, name string, argv []string, io Stdio) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("no command to run: %w", errdefs.ErrInvalidArgument)
	}
	c, err := e.appContainer(name)
	if err != nil {
		return 0, err
	}
	if err := e.runningContainer(ctx, name); err != nil {
		return 0, err
	}
	app, err := ociapp.Read(e.fs.Path(c.Spec.Rootfs))
	if err != nil {
		return 0, fmt.Errorf("container %q: rootfs %q: %w", name, c.Spec.Rootfs, err)
	}
	var opts []string
	for _, s := range append(ociapp.Sandbox(), c.Spec.App.Settings()...) {
		// Properties set over the bus expand no specifiers: the value as it is.
		opts = append(opts, "--property="+s.Key+"="+s.Value)
	}
	return RunIn(ctx, name, opts, app.ExecArgv(argv), io)
}

// AppLogs writes the journal of the OCI application of the running
// container name. The container's own journalctl reads it, inside the
// container: the journal's files are the container's to write, and any
// reader on the host (journalctl -M, --root, --directory) would follow
// the symlinks among them to the host's files.
func (e *Engine) AppLogs(ctx context.Context, name string, follow bool, lines int, io Stdio) error {
	if _, err := e.appContainer(name); err != nil {
		return err
	}
	if err := e.runningContainer(ctx, name); err != nil {
		return err
	}
	argv := append([]string{"journalctl", "--no-pager", "-u", ociapp.Unit}, journalArgs(follow, lines)...)
	status, err := e.systemdRun(ctx, name, "", false, argv, io)
	if err == nil && status != 0 && ctx.Err() == nil {
		return fmt.Errorf("journalctl exited with status %d", status)
	}
	return err
}
