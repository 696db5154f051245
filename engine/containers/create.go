package containers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
)

// CreateOptions says what to create.
type CreateOptions struct {
	// Name of the container; empty to generate one.
	Name string
	// Spec is what the container is. Its Rootfs is an imported rootfs to
	// build on, empty for a host clone; its OpaqueDirs override the
	// config's host_rootfs_opaque_dirs when non-nil.
	Spec spec.Spec
}

// Created is a container create made, and what it may lack on this host.
type Created struct {
	Name string `json:"name"`
	// Warnings say what will not work as asked until the host changes
	// (a unit the container relies on that is not running).
	Warnings []string `json:"warnings,omitempty"`
}

// machinesDir holds machinectl's images; a container may not shadow one.
const machinesDir = "/var/lib/machines"

// Create makes a stopped container and returns its name, with warnings.
//
// It claims the name first (an empty state file), then builds the layers
// and the unit drop-in, and writes the full state last. If anything fails,
// or ctx is cancelled, everything made so far is removed again. A process
// killed outright leaves an incomplete container that ps shows and rm
// removes.
func (e *Engine) Create(ctx context.Context, opts CreateOptions) (Created, error) {
	name, err := e.create(ctx, opts)
	if err != nil {
		return Created{}, err
	}
	sp := opts.Spec
	return Created{Name: name, Warnings: append(sp.Notes(), e.hostWarnings(ctx, name, &sp)...)}, nil
}

// HostWarnings says what container name lacks on this host as it is now
// (a unit it relies on that is not running): create says it once, and
// start again, since the host may have changed since.
func (e *Engine) HostWarnings(ctx context.Context, name string) []string {
	c, err := e.read(name)
	if err != nil {
		return nil
	}
	return e.hostWarnings(ctx, name, &c.Spec)
}

// hostWarnings says which units of the host that the container relies on
// are not running, and what it lacks without them. A unit systemd cannot
// be asked about is not a warning.
func (e *Engine) hostWarnings(ctx context.Context, name string, s *spec.Spec) []string {
	var out []string
	for _, h := range s.HostUnits(name) {
		sd, err := e.systemd(ctx)
		if err != nil {
			return out
		}
		if u, err := sd.UnitState(ctx, h.Unit); err == nil && u.ActiveState != "active" {
			out = append(out, fmt.Sprintf("%s is not running on this host: %s", h.Unit, h.Without))
		}
	}
	return out
}

func (e *Engine) create(ctx context.Context, opts CreateOptions) (name string, err error) {
	if err := e.ready(); err != nil {
		return "", err
	}
	sp := opts.Spec
	// The opaque directories of the config hide parts of the host; an
	// imported rootfs has only those asked for.
	if sp.OpaqueDirs == nil && sp.Rootfs == "" {
		if sp.OpaqueDirs, err = config.ParseOpaqueDirs(e.cfg.HostRootfsOpaqueDirs); err != nil {
			return "", err
		}
	}
	if sp.Rootfs != "" {
		// Held until the container exists, so that the rootfs cannot be
		// removed under it; from then on, fs rm sees the container.
		l, err := e.fs.Use(sp.Rootfs)
		if err != nil {
			return "", err
		}
		defer l.Unlock()
	}
	// What an application is comes from its rootfs, not from the caller,
	// and the user namespace range from the engine (reserveShift).
	sp.OCIApp, sp.OCIVolumes = false, nil
	sp.UserNS.Shift = 0
	if base := e.fs.Base(sp.Rootfs); sp.Rootfs != "" && base != "" {
		// The application's rootfs cannot be removed while it exists,
		// and the base not while the application does.
		app, err := ociapp.Read(e.fs.Path(sp.Rootfs))
		if err != nil {
			return "", fmt.Errorf("rootfs %q: %w", sp.Rootfs, err)
		}
		sp.OCIApp, sp.OCIVolumes = true, app.Volumes
	}
	if err := sp.Check(); err != nil {
		return "", err
	}
	if err := e.portsFree(sp.Ports); err != nil {
		return "", err
	}
	for _, pod := range []string{string(sp.Pod), sp.OCIPod} {
		if pod == "" {
			continue
		}
		// As the rootfs: pod rm refuses once the container exists.
		l, err := e.pods.Use(pod)
		if err != nil {
			return "", err
		}
		defer l.Unlock()
	}
	name = opts.Name
	if name != "" {
		if err := names.Validate(name); err != nil {
			return "", err
		}
	}
	taken, err := e.takenNames(ctx)
	if err != nil {
		return "", err
	}
	if name == "" {
		if name, err = names.Generate(taken); err != nil {
			return "", err
		}
	} else if taken(name) {
		return "", e.conflict(name)
	}

	l, err := e.lock(name)
	if err != nil {
		return "", err
	}
	defer l.Unlock()
	if err := state.Claim(e.layout.StateFile(name)); err != nil {
		return "", err
	}
	// Not the result name, which every failed return sets to "": the
	// files of "" are the directories of every container.
	claimed := name
	defer func() {
		if err != nil {
			e.removeFiles(claimed)
		}
	}()

	if sp.UserNS.Enabled {
		l, err := e.reserveShift(name, &sp)
		if err != nil {
			return "", err
		}
		defer l.Unlock()
	}
	if err := e.makeDirs(name); err != nil {
		return "", fmt.Errorf("container %q: prepare layers: %w", name, err)
	}
	tree := spec.Tree{Name: name, Lowers: e.lowers(sp), Upper: e.layout.Upper(name), App: sp.OCIApp, Layout: e.layout}
	if err := sp.Prepare(ctx, tree); err != nil {
		return "", fmt.Errorf("container %q: prepare layers: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := e.plan(name, sp, e.cfg.BootTimeout)
	if err != nil {
		return "", fmt.Errorf("container %q: %w", name, err)
	}
	if _, err := e.writeUnits(name, p); err != nil {
		return "", err
	}
	c := state.Container{Name: name, Created: time.Now(), Spec: sp}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := state.Write(e.layout.StateFile(name), c); err != nil {
		return "", err
	}
	return name, nil
}

// portsFree refuses a host port that another container forwards already:
// nftables holds one forward per port, and the second container's would
// silently not exist.
func (e *Engine) portsFree(ports []spec.Port) error {
	if len(ports) == 0 {
		return nil
	}
	states, err := e.states()
	if err != nil {
		return err
	}
	for _, st := range states {
		for _, theirs := range st.c.Spec.Ports {
			for _, p := range ports {
				if p.Protocol == theirs.Protocol && p.Host == theirs.Host {
					return spec.Invalid("port", p.String(), fmt.Sprintf("container %q forwards host port %s:%d already", st.name, p.Protocol, p.Host))
				}
			}
		}
	}
	return nil
}

// takenNames returns a test for names that are in use: sdme containers,
// machinectl images, and machines registered with machined by anyone.
func (e *Engine) takenNames(ctx context.Context) (func(string) bool, error) {
	sd, err := e.systemd(ctx)
	if err != nil {
		return nil, err
	}
	running, err := sd.Machines(ctx)
	if err != nil {
		return nil, err
	}
	machines := map[string]bool{}
	for _, m := range running {
		machines[m] = true
	}
	return func(n string) bool {
		return machines[n] || exists(e.layout.StateFile(n)) || exists(filepath.Join(machinesDir, n))
	}, nil
}

// conflict explains why name is taken.
func (e *Engine) conflict(name string) error {
	switch {
	case exists(e.layout.StateFile(name)):
		return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: errdefs.ErrExists}
	case exists(filepath.Join(machinesDir, name)):
		return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: fmt.Errorf("a machine image of that name exists in %s: %w", machinesDir, errdefs.ErrExists)}
	}
	return &errdefs.Error{Kind: errdefs.Container, Name: name, Err: fmt.Errorf("a machine of that name is registered with machined: %w", errdefs.ErrExists)}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// removeFiles deletes everything create makes, in the reverse order: the
// drop-in, the layers, then the state file, so that an interrupted removal
// still shows up in ps and can be run again.
func (e *Engine) removeFiles(name string) error {
	// Every path below is the name's: a name that is not one (empty, a
	// path) would make them the directories of every container.
	if err := names.Validate(name); err != nil {
		return err
	}
	var errs []error
	// The run-time limits too: a new container of the same name must not
	// inherit them.
	for _, d := range []string{layout.DropinDir(name), layout.ControlDir(name)} {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := e.removeContainerDir(name); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.Remove(e.layout.StateFile(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CreateAndStart creates a container and boots it. If the boot fails, the
// container is removed again: nothing of a failed create-and-start stays.
// step, if not nil, hears of each step as it begins ("starting", name).
func (e *Engine) CreateAndStart(ctx context.Context, opts CreateOptions, timeout time.Duration, step func(what, name string)) (Created, error) {
	if step == nil {
		step = func(string, string) {}
	}
	c, err := e.Create(ctx, opts)
	if err != nil {
		return c, err
	}
	name := c.Name
	step("creating", name)
	step("starting", name)
	if err := e.Start(ctx, name, timeout); err != nil {
		step("removing", name)
		// The removal must run even when ctx was cancelled (Ctrl-C).
		if rerr := e.Remove(context.WithoutCancel(ctx), name, true); rerr != nil {
			return c, errors.Join(err, fmt.Errorf("remove %q after the failed start: %w", name, rerr))
		}
		return c, err
	}
	return c, nil
}
