// Package systemd talks to the system manager and to machined over D-Bus,
// and writes the unit files sdme's containers run from.
//
// Every call takes a context and returns when systemd has finished the
// work, not when it has accepted it: StartUnit and StopUnit wait for their
// job's result, so "started" means the unit's start job completed.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"syscall"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/sdme/sdme/engine/errdefs"
)

// Client holds the connections to systemd and machined.
// A Client is safe for concurrent use (the varlink service shares one).
type Client struct {
	bus *dbus.Conn // for machined; go-systemd's machine1 has no context calls
	// sd is go-systemd's pair of connections to the manager, opened on first
	// use: create only needs machined, and each connection costs a handshake.
	mu sync.Mutex
	sd *sd.Conn

	reloads coalescer
}

// Connect opens the connection to the system bus. It must outlive any one
// call: pass a context that is not cancelled with the command.
func Connect(ctx context.Context) (*Client, error) {
	bus, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil && ctx.Err() != nil {
		// godbus closes the socket when ctx ends and reports the closed
		// socket, not why: a Ctrl-C must read as one.
		return nil, fmt.Errorf("connect to the system bus: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus (is systemd PID 1 and dbus running?): %w: %w", err, errdefs.ErrUnavailable)
	}
	v, err := managerVersion(ctx, bus)
	if err == nil {
		err = checkVersion(v)
	}
	if err != nil {
		bus.Close()
		return nil, err
	}
	return &Client{bus: bus}, nil
}

// manager returns the connection to the system manager, opening it once.
func (c *Client) manager() (*sd.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sd == nil {
		conn, err := sd.NewSystemConnectionContext(context.Background())
		if err != nil {
			return nil, fmt.Errorf("connect to systemd over D-Bus: %w: %w", err, errdefs.ErrUnavailable)
		}
		c.sd = conn
	}
	return c.sd, nil
}

// Close closes the connections.
func (c *Client) Close() {
	if c.sd != nil {
		c.sd.Close()
	}
	c.bus.Close()
}

// Reload makes systemd read changed unit files (daemon-reload). Callers
// that ask at the same time share one reload (see coalescer): a batch of
// starts whose units changed costs two reloads at most, not one each.
func (c *Client) Reload(ctx context.Context) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	err = c.reloads.do(ctx, func() error {
		// Not the caller's context: the reload is shared, and systemd
		// finishes it whether or not anyone still waits.
		return m.ReloadContext(context.Background())
	})
	if err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// coalescer runs a call on behalf of everyone who asks for it. A run
// serves only those who asked before it began, as it must see what they
// wrote: callers who ask while one runs share the next run.
type coalescer struct {
	running sync.Mutex // held by the run under way
	mu      sync.Mutex // guards next
	next    *run       // the run not yet begun, that new callers join
}

type run struct {
	done chan struct{}
	err  error
}

// do runs fn, or joins a run of it that has not begun, and returns its
// error; or ctx's, if ctx ends first.
func (k *coalescer) do(ctx context.Context, fn func() error) error {
	r := k.join(fn)
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join returns the run that has not begun, making one if there is none.
func (k *coalescer) join(fn func() error) *run {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next != nil {
		return k.next
	}
	r := &run{done: make(chan struct{})}
	k.next = r
	go func() {
		k.running.Lock()
		defer k.running.Unlock()
		k.mu.Lock()
		k.next = nil // who asks from now on may have missed this run
		k.mu.Unlock()
		r.err = fn()
		close(r.done)
	}()
	return r
}

// Unit is what sdme needs to know about a unit's state.
type Unit struct {
	// ActiveState: active, activating, deactivating, inactive or failed.
	ActiveState string
	// NeedDaemonReload is true when the unit's files changed on disk after
	// systemd loaded them.
	NeedDaemonReload bool
}

// UnitState returns the state of one unit. A unit systemd has not loaded
// is inactive.
func (c *Client) UnitState(ctx context.Context, unit string) (Unit, error) {
	m, err := c.manager()
	if err != nil {
		return Unit{}, err
	}
	props, err := m.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return Unit{}, fmt.Errorf("unit %s: %w", unit, err)
	}
	u := Unit{}
	u.ActiveState, _ = props["ActiveState"].(string)
	u.NeedDaemonReload, _ = props["NeedDaemonReload"].(bool)
	return u, nil
}

// ServiceResult returns the Result property of a service: "success", or
// why it last failed ("timeout", "exit-code", "signal", ...).
func (c *Client) ServiceResult(ctx context.Context, unit string) (string, error) {
	m, err := c.manager()
	if err != nil {
		return "", err
	}
	p, err := m.GetServicePropertyContext(ctx, unit, "Result")
	if err != nil {
		return "", fmt.Errorf("unit %s: %w", unit, err)
	}
	s, _ := p.Value.Value().(string)
	return s, nil
}

// ActiveStates returns the ActiveState of every loaded unit that matches
// one of the glob patterns, in one call.
func (c *Client) ActiveStates(ctx context.Context, patterns ...string) (map[string]string, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	units, err := m.ListUnitsByPatternsContext(ctx, nil, patterns)
	if err != nil {
		return nil, fmt.Errorf("list units: %w: %w", err, errdefs.ErrUnavailable)
	}
	out := make(map[string]string, len(units))
	for _, u := range units {
		out[u.Name] = u.ActiveState
	}
	return out, nil
}

// JobError is a start or stop job that did not end in "done".
type JobError struct {
	Unit   string
	Verb   string // start or stop
	Result string // failed, timeout, canceled, dependency, ...
}

func (e *JobError) Error() string {
	return fmt.Sprintf("%s %s: job %s", e.Verb, e.Unit, e.Result)
}

func (c *Client) runJob(ctx context.Context, verb, unit string,
	call func(context.Context, string, string, chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := call(ctx, unit, "replace", ch); err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return &JobError{Unit: unit, Verb: verb, Result: res}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// StartUnit starts unit and waits for the start job to finish.
func (c *Client) StartUnit(ctx context.Context, unit string) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	return c.runJob(ctx, "start", unit, m.StartUnitContext)
}

// StopUnit stops unit and waits for the stop job to finish, which includes
// its ExecStopPost commands.
func (c *Client) StopUnit(ctx context.Context, unit string) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	return c.runJob(ctx, "stop", unit, m.StopUnitContext)
}

// ResetFailed clears a unit's failed state.
func (c *Client) ResetFailed(ctx context.Context, unit string) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	err = m.ResetFailedUnitContext(ctx, unit)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit" {
		return nil
	}
	return err
}

// Enable links unit into the targets its [Install] section names.
func (c *Client) Enable(ctx context.Context, unit string) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	if _, _, err := m.EnableUnitFilesContext(ctx, []string{unit}, false, false); err != nil {
		return fmt.Errorf("enable %s: %w", unit, err)
	}
	return nil
}

// Disable removes unit's install links.
func (c *Client) Disable(ctx context.Context, unit string) error {
	m, err := c.manager()
	if err != nil {
		return err
	}
	if _, err := m.DisableUnitFilesContext(ctx, []string{unit}, false); err != nil {
		return fmt.Errorf("disable %s: %w", unit, err)
	}
	return nil
}

const (
	machined     = "org.freedesktop.machine1"
	machinedPath = dbus.ObjectPath("/org/freedesktop/machine1")
	machinedMgr  = "org.freedesktop.machine1.Manager"
)

// ErrNoMachine is returned by Machine when machined has no such machine.
var ErrNoMachine = errors.New("no such machine")

// Machine is what machined knows about a registered container.
type Machine struct {
	State  string // opening, running, closing
	Leader uint32 // PID of the container's init, seen from the host
}

// Machine looks up a machine registered with machined.
func (c *Client) Machine(ctx context.Context, name string) (Machine, error) {
	var path dbus.ObjectPath
	err := c.bus.Object(machined, machinedPath).CallWithContext(ctx, machinedMgr+".GetMachine", 0, name).Store(&path)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.machine1.NoSuchMachine" {
		return Machine{}, ErrNoMachine
	}
	if err != nil {
		return Machine{}, fmt.Errorf("machined GetMachine %s: %w", name, err)
	}
	obj := c.bus.Object(machined, path)
	var m Machine
	for prop, dst := range map[string]any{"State": &m.State, "Leader": &m.Leader} {
		v, err := obj.GetProperty("org.freedesktop.machine1.Machine." + prop)
		if err != nil {
			if errors.As(err, &de) && strings.HasSuffix(de.Name, "UnknownObject") {
				return Machine{}, ErrNoMachine // gone between the two calls
			}
			return Machine{}, fmt.Errorf("machine %s: %w", name, err)
		}
		if err := v.Store(dst); err != nil {
			return Machine{}, fmt.Errorf("machine %s %s: %w", name, prop, err)
		}
	}
	return m, nil
}

// Machines lists the names of all machines machined knows.
func (c *Client) Machines(ctx context.Context) ([]string, error) {
	var list [][]any
	err := c.bus.Object(machined, machinedPath).CallWithContext(ctx, machinedMgr+".ListMachines", 0).Store(&list)
	if err != nil {
		return nil, fmt.Errorf("machined ListMachines: %w: %w", err, errdefs.ErrUnavailable)
	}
	names := make([]string, 0, len(list))
	for _, m := range list {
		if n, ok := m[0].(string); ok {
			names = append(names, n)
		}
	}
	return names, nil
}

// KillMachine sends sig to the machine's leader ("leader") or to all its
// processes ("all").
func (c *Client) KillMachine(ctx context.Context, name, who string, sig syscall.Signal) error {
	err := c.bus.Object(machined, machinedPath).CallWithContext(ctx, machinedMgr+".KillMachine", 0, name, who, int32(sig)).Err
	if err != nil {
		return fmt.Errorf("machined KillMachine %s: %w", name, err)
	}
	return nil
}

// TerminateMachine asks machined to stop the machine's unit.
func (c *Client) TerminateMachine(ctx context.Context, name string) error {
	err := c.bus.Object(machined, machinedPath).CallWithContext(ctx, machinedMgr+".TerminateMachine", 0, name).Err
	if err != nil {
		return fmt.Errorf("machined TerminateMachine %s: %w", name, err)
	}
	return nil
}

// MachineAddresses returns the addresses of a machine's own network
// namespace that machined finds, in its order.
func (c *Client) MachineAddresses(ctx context.Context, name string) ([]netip.Addr, error) {
	var raw []struct {
		Family int32
		Addr   []byte
	}
	err := c.bus.Object(machined, machinedPath).CallWithContext(ctx, machinedMgr+".GetMachineAddresses", 0, name).Store(&raw)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.machine1.NoSuchMachine" {
		return nil, ErrNoMachine
	}
	if err != nil {
		return nil, fmt.Errorf("machined GetMachineAddresses %s: %w", name, err)
	}
	var out []netip.Addr
	for _, r := range raw {
		if a, ok := netip.AddrFromSlice(r.Addr); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}
