package containers

import (
	"context"
	"fmt"

	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
)

// SetLimits changes a container's limits and reports whether it is
// running. The new limits are written to its state and its unit's
// drop-in, for every start from now on; on a running container they are
// also applied at once, as `systemctl set-property --runtime` does. The
// drop-in sets every limit, so those run-time values never outlast it.
func (e *Engine) SetLimits(ctx context.Context, name string, u spec.LimitsUpdate) (running bool, err error) {
	l, c, sd, err := e.open(ctx, name, true)
	if err != nil {
		return false, err
	}
	defer l.Unlock()
	if err := runnable(c); err != nil {
		return false, err
	}
	c.Spec.Limits = c.Spec.Limits.Apply(u)
	if err := c.Spec.Check(); err != nil {
		return false, err
	}
	p, err := e.plan(name, c.Spec, e.cfg.BootTimeout)
	if err != nil {
		return false, fmt.Errorf("container %q: %w", name, err)
	}
	unit := layout.Unit(name)
	if err := state.Write(e.layout.StateFile(name), c); err != nil {
		return false, err
	}
	changed, err := e.writeUnits(name, p)
	if err != nil {
		return false, err
	}
	us, err := sd.UnitState(ctx, unit)
	if err != nil {
		return false, err
	}
	if changed || us.NeedDaemonReload {
		if err := sd.Reload(ctx); err != nil {
			return false, err
		}
	}
	running = us.ActiveState == "active" || us.ActiveState == "activating"
	if running {
		if err := sd.SetRuntimeProperties(ctx, unit, c.Spec.Limits.Properties()); err != nil {
			return true, err
		}
	}
	return running, nil
}
