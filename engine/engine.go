// Package engine is the way in to sdme's engine for its front ends, the
// CLI and the varlink service alike: one configuration, loaded once, and
// what works under it (the containers, the rootfs store, imports), with
// the check for root in one place. The packages below it do the work.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/sdme/sdme/engine/build"
	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/containers"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/importer"
	"github.com/sdme/sdme/engine/pods"
	"github.com/sdme/sdme/engine/portproxy"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/systemd"
)

// Engine is sdme under one configuration. It is safe for concurrent use:
// the varlink service shares one between its calls.
type Engine struct {
	cfg        config.Config
	containers *containers.Engine
	store      rootfs.Store
	pods       pods.Store
}

// Open loads the configuration file at path (config.Path) and returns the
// engine for it.
func Open(path string) (*Engine, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return New(cfg), nil
}

// New returns the engine for cfg. It connects to systemd only when a call
// needs it.
func New(cfg config.Config) *Engine {
	return &Engine{cfg: cfg, containers: containers.New(cfg), store: rootfs.New(cfg.Datadir), pods: pods.New(cfg.Datadir)}
}

// Config is the configuration the engine was made with.
func (e *Engine) Config() config.Config { return e.cfg }

// Containers returns the containers of the configured data directory.
func (e *Engine) Containers() (*containers.Engine, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	return e.containers, nil
}

// Rootfs returns the store of imported root filesystems. A build killed
// outright may have left its machine running on some of them: it is
// stopped first, so that none is listed as free, or removed, under it.
func (e *Engine) Rootfs() (rootfs.Store, error) {
	if err := requireRoot(); err != nil {
		return rootfs.Store{}, err
	}
	build.New(e.cfg).Sweep(context.Background())
	return e.store, nil
}

// Pods returns the pods of the configured data directory.
func (e *Engine) Pods() (pods.Store, error) {
	if err := requireRoot(); err != nil {
		return pods.Store{}, err
	}
	return e.pods, nil
}

// RemovePod removes pod name. It refuses while containers are in it,
// naming them; with force it removes those containers first (stopping
// them), as `podman pod rm -f` does.
func (e *Engine) RemovePod(ctx context.Context, name string, force bool) error {
	if err := requireRoot(); err != nil {
		return err
	}
	if force {
		users, err := e.pods.Users(name)
		if err != nil {
			return err
		}
		for _, c := range users {
			if err := e.containers.Remove(ctx, c, true); err != nil {
				return fmt.Errorf("pod %q: remove container %q: %w", name, c, err)
			}
		}
	}
	return e.pods.Remove(name)
}

// EnsurePod makes the network namespace of pod name if it is gone: the
// unit of a container in the pod runs it before nspawn. It reads neither
// the configuration nor the data directory.
func EnsurePod(name string) error {
	if err := requireRoot(); err != nil {
		return err
	}
	if err := pods.Ensure(name); err != nil {
		return fmt.Errorf("pod %q: %w", name, err)
	}
	return nil
}

// ForwardLoopback serves the TCP and UDP ports of container name on the host's
// loopback addresses, which nspawn's forwarding cannot reach, until ctx
// ends. The container's unit starts it (sdme ports-proxy) once the
// container has booted, as a Type=notify unit: READY=1 goes to systemd
// once every port listens. It reads neither the configuration nor the
// data directory.
func ForwardLoopback(ctx context.Context, name string, ports []spec.Port) error {
	if err := requireRoot(); err != nil {
		return err
	}
	var tcp, udp []portproxy.Forward
	for _, p := range ports {
		f := portproxy.Forward{Host: p.Host, Container: p.Container}
		if p.Protocol == "udp" {
			udp = append(udp, f)
		} else {
			tcp = append(tcp, f)
		}
	}
	ls, err := portproxy.Listen(tcp)
	if err != nil {
		return fmt.Errorf("container %q: %w", name, err)
	}
	conns, udpPorts, err := portproxy.ListenUDP(udp)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return fmt.Errorf("container %q: %w", name, err)
	}
	sd, err := systemd.Connect(ctx)
	if err != nil {
		return err
	}
	defer sd.Close()
	addr := func(ctx context.Context) (netip.Addr, error) {
		addrs, err := sd.MachineAddresses(ctx, name)
		if err != nil {
			return netip.Addr{}, err
		}
		return containerAddr(addrs)
	}
	daemon.SdNotify(false, daemon.SdNotifyReady)
	done := make(chan error, 1)
	go func() { done <- portproxy.ServeUDP(ctx, conns, udpPorts, addr) }()
	err = portproxy.Serve(ctx, ls, tcp, addr)
	return errors.Join(err, <-done)
}

// containerAddr picks the address to reach a container at: its first
// IPv4 address, else its first IPv6 one, that is neither loopback nor
// link-local.
func containerAddr(addrs []netip.Addr) (netip.Addr, error) {
	var v6 netip.Addr
	for _, a := range addrs {
		switch {
		case a.IsLoopback() || a.IsLinkLocalUnicast():
		case a.Is4():
			return a, nil
		case !v6.IsValid():
			v6 = a
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, errors.New("the container has no address yet")
}

// Import imports opts.Source into the rootfs store, reporting progress to
// rep. The configured insecure registries may be reached over plain HTTP
// or unverified TLS.
func (e *Engine) Import(ctx context.Context, opts importer.Options, rep progress.Reporter) (importer.Result, error) {
	if err := requireRoot(); err != nil {
		return importer.Result{}, err
	}
	opts.Insecure = e.cfg.Insecure()
	opts.DefaultBase = e.cfg.DefaultBaseFS
	return importer.Import(ctx, e.store, opts, rep)
}

// Build makes rootfs opts.Name from a build file, reporting its steps
// and their output to rep.
func (e *Engine) Build(ctx context.Context, opts build.Options, rep progress.Reporter) (build.Result, error) {
	if err := requireRoot(); err != nil {
		return build.Result{}, err
	}
	return build.New(e.cfg).Build(ctx, opts, rep)
}

// Close releases the D-Bus connections, if any were made.
func (e *Engine) Close() { e.containers.Close() }

// requireRoot fails unless the process runs as root: containers are
// systemd system services and overlay mounts, and a rootfs keeps its
// files' owners and device nodes.
func requireRoot() error {
	if os.Geteuid() != 0 {
		return &errdefs.Error{Err: fmt.Errorf("sdme needs root to manage containers and root filesystems: %w", errdefs.ErrPermissionDenied), Hint: errdefs.HintRoot}
	}
	return nil
}
