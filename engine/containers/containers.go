// Package containers is sdme's container lifecycle: create, start, stop,
// remove, enable, list, and entering a running container.
//
// Vocabulary. A container is a name, a state file and a directory:
//
//	upper   the container's own writable layer; everything it changes
//	work    overlayfs scratch space
//	merged  where the overlay is mounted while the container runs
//
// The lower, read-only layer is the host's / for a host clone, or an
// imported rootfs. A container runs as the systemd service sdme@NAME.service:
// the shared template unit plus a drop-in sdme writes at create and refreshes
// at every start. The unit mounts the overlay, runs systemd-nspawn --boot
// with --keep-unit, and unmounts after it exits; nspawn registers the
// container with machined, so machinectl and journalctl -u see it.
//
// Every change to a container holds its lock (package lock). Stop takes no
// lock, so that a start stuck in a long boot can always be stopped.
package containers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/datadir"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/pods"
	"github.com/sdme/sdme/engine/rootfs"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
	"github.com/sdme/sdme/engine/systemd"
)

// Engine manages the containers of one data directory. It is safe for
// concurrent use: the varlink service shares one between its clients.
type Engine struct {
	cfg    config.Config
	layout layout.Layout
	fs     rootfs.Store
	pods   pods.Store
	mu     sync.Mutex // guards sd
	sd     *systemd.Client

	stateCache stateCache
}

// New returns an Engine for the settings in cfg. It connects to systemd
// only when a call needs it.
func New(cfg config.Config) *Engine {
	return &Engine{cfg: cfg, layout: layout.Layout{Datadir: cfg.Datadir}, fs: rootfs.New(cfg.Datadir), pods: pods.New(cfg.Datadir)}
}

// Close releases the D-Bus connections, if any were made.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sd != nil {
		e.sd.Close()
		e.sd = nil
	}
}

// Config is the configuration the engine was made with.
func (e *Engine) Config() config.Config { return e.cfg }

func (e *Engine) systemd(ctx context.Context) (*systemd.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sd == nil {
		// The connections outlive this call's context: cleanup after a
		// cancelled call (Ctrl-C) still needs them.
		c, err := systemd.Connect(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		e.sd = c
	}
	return e.sd, nil
}

// ready is the preamble of every call: a data directory that is root's
// alone (see package datadir). That sdme runs as root the caller checked
// (package engine).
func (e *Engine) ready() error {
	return datadir.Prepare(e.layout)
}

func (e *Engine) lock(name string) (*lock.Lock, error) {
	// No wait: the holder may be a start waiting minutes for a boot.
	return lock.Exclusive(e.layout.LockFile("containers", name), fmt.Sprintf("container %q", name), 0)
}

// Info describes a container as ps shows it. The JSON form is the reply of
// the varlink interface.
type Info struct {
	Name string `json:"name"`
	// State is running, starting, stopping, stopped, failed, or incomplete
	// (a create that was interrupted; sdme rm cleans it up).
	State string `json:"state"`
	// Spec is what it is made of and how it runs.
	spec.Spec
	Created time.Time `json:"created"`
	Enabled bool      `json:"enabled"`
}

// unitState maps a unit's ActiveState to the container state users see.
func unitState(active string) string {
	switch active {
	case "active", "reloading":
		return "running"
	case "activating":
		return "starting"
	case "deactivating":
		return "stopping"
	case "failed":
		return "failed"
	}
	return "stopped"
}

// List returns every container, sorted by name. It asks systemd once for
// all units, however many containers there are.
func (e *Engine) List(ctx context.Context) ([]Info, error) {
	if err := e.ready(); err != nil {
		return nil, err
	}
	states, err := e.states()
	if err != nil {
		return nil, err
	}
	if len(states) == 0 {
		return nil, nil
	}
	sd, err := e.systemd(ctx)
	if err != nil {
		return nil, err
	}
	active, err := sd.ActiveStates(ctx, "sdme@*.service")
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(states))
	for _, s := range states {
		info := Info{Name: s.name, State: unitState(active[layout.Unit(s.name)]), Spec: s.c.Spec, Created: s.c.Created, Enabled: s.c.Enabled}
		if s.err != nil || !s.c.Complete() {
			info.State = "incomplete"
		}
		out = append(out, info)
	}
	return out, nil
}

// Resolve turns a name or a unique prefix of one into a container name.
// An exact match always wins; an ambiguous prefix lists the candidates.
func (e *Engine) Resolve(prefix string) (string, error) {
	if err := e.ready(); err != nil {
		return "", err
	}
	names, err := state.Names(e.layout.StateDir())
	if err != nil {
		return "", err
	}
	var matches []string
	for _, n := range names {
		if n == prefix {
			return n, nil
		}
		if prefix != "" && strings.HasPrefix(n, prefix) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 0:
		return "", &errdefs.Error{Kind: errdefs.Container, Name: prefix, Err: errdefs.ErrNotFound}
	case 1:
		return matches[0], nil
	}
	sort.Strings(matches)
	return "", fmt.Errorf("%q matches %d containers: %s: %w", prefix, len(matches), strings.Join(matches, ", "), errdefs.ErrAmbiguous)
}

// readyFor is ready for a call about container name, which must be a
// valid name before it goes anywhere near a path, a unit or a machine:
// every entry point that takes a name calls it (or read, or open).
func (e *Engine) readyFor(name string) error {
	if err := names.Validate(name); err != nil {
		return err
	}
	return e.ready()
}

// open is the preamble of every change to a container: it checks the name
// and for root, takes the container's lock, loads its state and connects
// to systemd. The caller unlocks. With complete set the state must be that
// of a finished create; without, any state will do, even a damaged one
// (which loads as an empty Container): removal needs only the name.
func (e *Engine) open(ctx context.Context, name string, complete bool) (*lock.Lock, state.Container, *systemd.Client, error) {
	if err := e.readyFor(name); err != nil {
		return nil, state.Container{}, nil, err
	}
	l, err := e.lock(name)
	if err != nil {
		return nil, state.Container{}, nil, err
	}
	c, err := state.Read(e.layout.StateFile(name))
	switch {
	case err == nil && complete && !c.Complete():
		err = errIncomplete(name)
	case errors.Is(err, errdefs.ErrCorrupt) && !complete:
		c, err = state.Container{}, nil
	}
	if err == nil {
		var sd *systemd.Client
		if sd, err = e.systemd(ctx); err == nil {
			return l, c, sd, nil
		}
	}
	l.Unlock()
	return nil, c, nil, err
}

// read loads a container's state, which must be complete.
func (e *Engine) read(name string) (state.Container, error) {
	if err := names.Validate(name); err != nil {
		return state.Container{}, err
	}
	c, err := state.Read(e.layout.StateFile(name))
	if err != nil {
		return c, err
	}
	if !c.Complete() {
		return c, errIncomplete(name)
	}
	return c, nil
}

func errIncomplete(name string) error {
	return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: fmt.Errorf("not fully created: %w", errdefs.ErrFailedPrecondition), Hint: errdefs.HintRemove}
}
