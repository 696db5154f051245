package systemd

import (
	"context"
	"fmt"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Property is a unit property as the manager's D-Bus API types it.
type Property struct {
	Name  string
	Value any
}

// SetRuntimeProperties changes properties of a unit until the next
// reboot, as `systemctl set-property --runtime` does: a running unit's
// cgroup changes at once, and systemd keeps the values in
// /run/systemd/system.control/UNIT.d/50-NAME.conf. Drop-ins apply in the
// order of their file names, whatever their directory, so a later-named
// drop-in that sets the same property wins over them at the next reload.
func (c *Client) SetRuntimeProperties(ctx context.Context, unit string, props []Property) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	sp := make([]sd.Property, len(props))
	for i, p := range props {
		sp[i] = sd.Property{Name: p.Name, Value: dbus.MakeVariant(p.Value)}
	}
	if err := m.SetUnitPropertiesContext(ctx, unit, true, sp...); err != nil {
		return fmt.Errorf("unit %s: set properties: %w", unit, err)
	}
	return nil
}
