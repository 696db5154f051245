package containers

import (
	"context"
	"time"

	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/state"
)

// Remove deletes a container. A running container is stopped first:
// gracefully, or with SIGKILL when force is set. Remove also cleans up
// containers whose create was interrupted.
func (e *Engine) Remove(ctx context.Context, name string, force bool) error {
	if err := RequireRoot(); err != nil {
		return err
	}
	l, err := e.lock(name)
	if err != nil {
		return err
	}
	defer l.Unlock()
	c, err := state.Read(e.layout.StateFile(name))
	if err != nil {
		return err
	}
	sd, err := e.systemd(ctx)
	if err != nil {
		return err
	}
	mode := StopGraceful
	if force {
		mode = StopKill
	}
	if err := e.Stop(ctx, name, mode, 90*time.Second); err != nil {
		return err
	}
	if c.Enabled {
		if err := sd.Disable(ctx, layout.Unit(name)); err != nil {
			return err
		}
	}
	return e.removeFiles(name)
}

// Enable makes the container start at boot, with machines.target.
func (e *Engine) Enable(ctx context.Context, name string) error {
	return e.setEnabled(ctx, name, true)
}

// Disable undoes Enable. It does not stop a running container.
func (e *Engine) Disable(ctx context.Context, name string) error {
	return e.setEnabled(ctx, name, false)
}

func (e *Engine) setEnabled(ctx context.Context, name string, on bool) error {
	if err := RequireRoot(); err != nil {
		return err
	}
	l, err := e.lock(name)
	if err != nil {
		return err
	}
	defer l.Unlock()
	c, err := e.read(name)
	if err != nil {
		return err
	}
	sd, err := e.systemd(ctx)
	if err != nil {
		return err
	}
	if on {
		err = sd.Enable(ctx, layout.Unit(name))
	} else {
		err = sd.Disable(ctx, layout.Unit(name))
	}
	if err != nil {
		return err
	}
	c.Enabled = on
	return state.Write(e.layout.StateFile(name), c)
}
