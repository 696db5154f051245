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
	// Incomplete and damaged containers too: rm is how they are cleaned
	// up. A damaged state file loads as a Container that is not Complete.
	l, c, sd, err := e.open(ctx, name, false)
	if err != nil {
		return err
	}
	defer l.Unlock()
	mode := StopGraceful
	if force {
		mode = StopKill
	}
	if err := e.Stop(ctx, name, mode, 90*time.Second); err != nil {
		return err
	}
	// Always: an enable killed before it wrote the state leaves a link in
	// machines.target.wants that the state does not know of, and a later
	// container of the same name would start at boot.
	if err := sd.Disable(ctx, layout.Unit(name)); err != nil && c.Enabled {
		return err
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
	l, c, sd, err := e.open(ctx, name, true)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if on {
		// The unit starts at boot without sdme: what Start would refuse,
		// enable refuses.
		if err := runnable(c); err != nil {
			return err
		}
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
