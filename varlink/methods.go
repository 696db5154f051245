package varlink

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/build"
	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/containers"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/importer"
	"github.com/sdme/sdme/engine/pods"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
	"github.com/sdme/sdme/engine/spec"
)

// methods of io.sdme. Each call reads the configuration afresh (SetConfig
// or `sdme config set` may have changed it) and uses the service's engine
// for it, which keeps its D-Bus connections from call to call.
func methods() map[string]method {
	return map[string]method{
		"List":         {false, list},
		"Create":       {true, create},
		"Start":        {true, start},
		"Stop":         {true, stop},
		"Restart":      {true, restart},
		"Remove":       {true, remove},
		"SetLimits":    {true, setLimits},
		"Enable":       {true, enable},
		"Disable":      {true, disable},
		"ListRootfs":   {false, listRootfs},
		"ImportRootfs": {true, importRootfs},
		"RemoveRootfs": {true, removeRootfs},
		"Build":        {true, buildRootfs},
		"CreatePod":    {true, createPod},
		"ListPods":     {false, listPods},
		"RemovePod":    {true, removePod},
		"GetConfig":    {false, getConfig},
		"SetConfig":    {true, setConfig},
	}
}

type nameParam struct {
	Name string `json:"name"`
}

type optionalName struct {
	Name *string `json:"name"`
}

// seconds reads an optional timeout in seconds; absent means the default.
func seconds(p *int64) (time.Duration, error) {
	if p == nil {
		return 0, nil
	}
	return containers.Timeout(*p)
}

// listParams decodes the optional name of an enumeration, and answers
// ExpectedMore if there is none and the client did not ask for more.
func listParams(ctx context.Context, c *call) (name *string, ok bool, err error) {
	var p optionalName
	if ok, err := c.params(ctx, &p); !ok {
		return nil, false, err
	}
	if p.Name == nil {
		if ok, err := c.expectMore(ctx); !ok {
			return nil, false, err
		}
	}
	return p.Name, true, nil
}

// enumerate sends each item as its own reply, all but the last flagged
// continues: the enumeration pattern of io.systemd.Machine.List, where
// nothing to list is the error empty. The replies go out in one write,
// not one a message.
func enumerate[T any](ctx context.Context, c *call, items []T, empty string, wrap func(T) any) error {
	if len(items) == 0 {
		return c.fail(ctx, replyError{empty, struct{}{}})
	}
	if c.IsOneway() {
		return nil
	}
	var buf []byte
	for i, it := range items {
		msg, err := json.Marshal(struct {
			Parameters any  `json:"parameters"`
			Continues  bool `json:"continues,omitempty"`
		}{wrap(it), i < len(items)-1})
		if err != nil {
			return err
		}
		buf = append(append(buf, msg...), 0)
	}
	_, err := c.Conn.Write(ctx, buf)
	return err
}

func list(ctx context.Context, c *call) error {
	name, ok, err := listParams(ctx, c)
	if !ok {
		return err
	}
	return c.svc.withEngine(func(e *containers.Engine) error {
		all, err := e.List(ctx)
		if err != nil {
			return err
		}
		root := peerIsRoot(ctx)
		var out []containers.Info
		for _, i := range all {
			if name == nil || i.Name == *name {
				if !root {
					// Values may be secrets; names are not.
					i.Env = i.Env.Names()
				}
				out = append(out, i)
			}
		}
		return enumerate(ctx, c, out, "io.sdme.NoSuchContainer", func(i containers.Info) any {
			return struct {
				Container containers.Info `json:"container"`
			}{i}
		})
	})
}

func create(ctx context.Context, c *call) error {
	// The spec's fields are Create's parameters, as they are List's.
	var p struct {
		Name *string `json:"name"`
		spec.Spec
	}
	if ok, err := c.params(ctx, &p); !ok {
		return err
	}
	opts := containers.CreateOptions{Spec: p.Spec}
	if p.Name != nil {
		opts.Name = *p.Name
	}
	return c.svc.withEngine(func(e *containers.Engine) error {
		created, err := e.Create(ctx, opts)
		if err != nil {
			return err
		}
		return c.Reply(ctx, created)
	})
}

// setLimits changes limits: an absent one is kept, zero clears one.
func setLimits(ctx context.Context, c *call) error {
	var p struct {
		Name      string   `json:"name"`
		Memory    *uint64  `json:"memory"`
		CPUs      *float64 `json:"cpus"`
		CPUWeight *uint64  `json:"cpuWeight"`
		TasksMax  *uint64  `json:"tasksMax"`
	}
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	u := spec.LimitsUpdate{Memory: p.Memory, CPUs: p.CPUs, CPUWeight: p.CPUWeight, TasksMax: p.TasksMax}
	return c.svc.withEngine(func(e *containers.Engine) error {
		running, err := e.SetLimits(ctx, p.Name, u)
		if err != nil {
			return err
		}
		return c.Reply(ctx, struct {
			Running bool `json:"running"`
		}{running})
	})
}

type bootParams struct {
	Name    string `json:"name"`
	Timeout *int64 `json:"timeout"`
}

func start(ctx context.Context, c *call) error {
	var p bootParams
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	timeout, err := seconds(p.Timeout)
	if err != nil {
		return c.ReplyInvalidParameter(ctx, "timeout")
	}
	return c.svc.withEngine(func(e *containers.Engine) error {
		if err := e.Start(ctx, p.Name, timeout); err != nil {
			return err
		}
		return c.Reply(ctx, struct{}{})
	})
}

func stop(ctx context.Context, c *call) error {
	var p struct {
		Name    string  `json:"name"`
		Mode    *string `json:"mode"`
		Timeout *int64  `json:"timeout"`
	}
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	mode := containers.StopGraceful
	if p.Mode != nil {
		m, err := containers.ParseStopMode(*p.Mode)
		if err != nil {
			return c.ReplyInvalidParameter(ctx, "mode")
		}
		mode = m
	}
	timeout, err := seconds(p.Timeout)
	if err != nil {
		return c.ReplyInvalidParameter(ctx, "timeout")
	}
	return c.svc.withEngine(func(e *containers.Engine) error {
		if err := e.Stop(ctx, p.Name, mode, timeout); err != nil {
			return err
		}
		return c.Reply(ctx, struct{}{})
	})
}

func restart(ctx context.Context, c *call) error {
	var p bootParams
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	timeout, err := seconds(p.Timeout)
	if err != nil {
		return c.ReplyInvalidParameter(ctx, "timeout")
	}
	return c.svc.withEngine(func(e *containers.Engine) error {
		if err := e.Restart(ctx, p.Name, containers.StopGraceful, 0, timeout); err != nil {
			return err
		}
		return c.Reply(ctx, struct{}{})
	})
}

// byName serves the methods that take a container name and nothing else.
func byName(do func(e *containers.Engine, ctx context.Context, name string) error) func(context.Context, *call) error {
	return func(ctx context.Context, c *call) error {
		var p nameParam
		if ok, err := c.params(ctx, &p, "name"); !ok {
			return err
		}
		return c.svc.withEngine(func(e *containers.Engine) error {
			if err := do(e, ctx, p.Name); err != nil {
				return err
			}
			return c.Reply(ctx, struct{}{})
		})
	}
}

var (
	remove = byName(func(e *containers.Engine, ctx context.Context, name string) error {
		return e.Remove(ctx, name, true)
	})
	enable  = byName((*containers.Engine).Enable)
	disable = byName((*containers.Engine).Disable)
)

func listRootfs(ctx context.Context, c *call) error {
	root := peerIsRoot(ctx)
	return listStore(ctx, c, (*engine.Engine).Rootfs, "io.sdme.NoSuchRootfs", func(i rootfs.Info) any {
		if i.App != nil && !root {
			// As a container's: values may be secrets; names are not.
			app := *i.App
			app.Env = spec.Env(app.Env).Names()
			i.App = &app
		}
		return struct {
			Rootfs rootfs.Info `json:"rootfs"`
		}{i}
	})
}

// store is what listStore needs of a store of named objects.
type store[T any] interface {
	Get(name string) (T, error)
	List() ([]T, error)
}

// listStore answers a List call over one of the engine's stores: the
// object named, or with more every one, as enumerate sends them.
func listStore[T any, S store[T]](ctx context.Context, c *call, open func(*engine.Engine) (S, error), empty string, wrap func(T) any) error {
	name, ok, err := listParams(ctx, c)
	if !ok {
		return err
	}
	return c.svc.with(func(e *engine.Engine) error {
		s, err := open(e)
		if err != nil {
			return err
		}
		var out []T
		if name != nil {
			info, err := s.Get(*name)
			if err != nil {
				return err
			}
			out = append(out, info)
		} else if out, err = s.List(); err != nil {
			return err
		}
		return enumerate(ctx, c, out, empty, wrap)
	})
}

func removeRootfs(ctx context.Context, c *call) error {
	var p nameParam
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	return c.svc.with(func(e *engine.Engine) error {
		store, err := e.Rootfs()
		if err != nil {
			return err
		}
		if err := store.Remove(p.Name); err != nil {
			return err
		}
		return c.Reply(ctx, struct{}{})
	})
}

func importRootfs(ctx context.Context, c *call) error {
	var p struct {
		Source   string  `json:"source"`
		Name     *string `json:"name"`
		Force    *bool   `json:"force"`
		Platform *string `json:"platform"`
		Insecure *bool   `json:"insecure"`
		BaseFs   *string `json:"baseFs"`
		OCIMode  *string `json:"ociMode"`
	}
	if ok, err := c.params(ctx, &p, "source"); !ok {
		return err
	}
	opts := importer.Options{Source: p.Source}
	if p.BaseFs != nil {
		opts.Base = *p.BaseFs
	}
	if p.OCIMode != nil {
		opts.Mode = *p.OCIMode
	}
	if p.Name != nil {
		opts.Name = *p.Name
	}
	if p.Force != nil {
		opts.Force = *p.Force
	}
	if p.Platform != nil {
		opts.Platform = *p.Platform
	}
	opts.AnyInsecure = p.Insecure != nil && *p.Insecure
	return c.svc.with(func(e *engine.Engine) error {
		res, err := runImport(ctx, c, e, opts)
		if err != nil {
			return err
		}
		c.Continues = false
		return c.Reply(ctx, struct {
			Rootfs   rootfs.Info `json:"rootfs"`
			Warnings []string    `json:"warnings"`
		}{res.Info, append([]string{}, res.Warnings...)})
	})
}

func buildRootfs(ctx context.Context, c *call) error {
	var p struct {
		Name    string `json:"name"`
		File    string `json:"file"`
		NoCache *bool  `json:"noCache"`
		Force   *bool  `json:"force"`
	}
	if ok, err := c.params(ctx, &p, "name", "file"); !ok {
		return err
	}
	opts := build.Options{Name: p.Name, File: p.File, NoCache: p.NoCache != nil && *p.NoCache, Force: p.Force != nil && *p.Force}
	if !filepath.IsAbs(opts.File) {
		return fmt.Errorf("file %q: the build file's path must be absolute: %w", opts.File, errdefs.ErrInvalidArgument)
	}
	return c.svc.with(func(e *engine.Engine) error {
		// As an import: the build goes on if the client goes away.
		rep := progress.Discard
		if c.WantsMore() {
			s := newStreamer(ctx, c)
			defer s.close()
			rep = s
		}
		res, err := e.Build(c.svc.ctx, opts, rep)
		if err != nil {
			return err
		}
		c.Continues = false
		return c.Reply(ctx, struct {
			Rootfs   rootfs.Info `json:"rootfs"`
			UpToDate bool        `json:"upToDate"`
		}{res.Info, res.UpToDate})
	})
}

// runImport imports, streaming the progress to the client if it asked for
// more. A client that goes away does not stop the import: it finishes (or
// fails and cleans up) as if the client had waited, as importd's
// transfers do. Only the service's own shutdown cancels it. The streamer
// has stopped when runImport returns, even if the import panicked.
func runImport(ctx context.Context, c *call, e *engine.Engine, opts importer.Options) (importer.Result, error) {
	rep := progress.Discard
	if c.WantsMore() {
		s := newStreamer(ctx, c)
		defer s.close()
		rep = s
	}
	return e.Import(c.svc.ctx, opts, rep)
}

func getConfig(ctx context.Context, c *call) error {
	if ok, err := c.params(ctx, &struct{}{}); !ok {
		return err
	}
	return c.svc.with(func(e *engine.Engine) error {
		return c.Reply(ctx, e.Config())
	})
}

func setConfig(ctx context.Context, c *call) error {
	var p struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if ok, err := c.params(ctx, &p, "key", "value"); !ok {
		return err
	}
	if _, err := config.SetInFile(config.Path(), p.Key, p.Value); err != nil {
		return err
	}
	return c.Reply(ctx, struct{}{})
}

func createPod(ctx context.Context, c *call) error {
	var p nameParam
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	return c.svc.with(func(e *engine.Engine) error {
		store, err := e.Pods()
		if err != nil {
			return err
		}
		info, err := store.Create(p.Name)
		if err != nil {
			return err
		}
		return c.Reply(ctx, struct {
			Pod pods.Info `json:"pod"`
		}{info})
	})
}

func listPods(ctx context.Context, c *call) error {
	return listStore(ctx, c, (*engine.Engine).Pods, "io.sdme.NoSuchPod", func(i pods.Info) any {
		return struct {
			Pod pods.Info `json:"pod"`
		}{i}
	})
}

func removePod(ctx context.Context, c *call) error {
	var p struct {
		Name  string `json:"name"`
		Force *bool  `json:"force"`
	}
	if ok, err := c.params(ctx, &p, "name"); !ok {
		return err
	}
	return c.svc.with(func(e *engine.Engine) error {
		if err := e.RemovePod(ctx, p.Name, p.Force != nil && *p.Force); err != nil {
			return err
		}
		return c.Reply(ctx, struct{}{})
	})
}
