// Package importer turns a source (a directory, a tarball, a URL, a
// registry image, an OCI layout, a docker save archive, a disk image) into
// a rootfs of the store.
//
// Every import is a rootfs.Txn: the tree is built in a staging directory
// under the data directory and renamed into place only when it is whole,
// so an error, Ctrl-C or SIGKILL at any moment leaves the store as it was
// (apart from a staging directory that the next command removes).
package importer

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
)

// Options says what to import.
type Options struct {
	// Name of the rootfs; empty to derive it from Source.
	Name   string
	Source string
	// Force replaces an existing rootfs that no container uses.
	Force bool
	// Platform (os/arch[/variant]) picks the image of a multi-platform
	// registry image or OCI layout; empty means this machine's.
	Platform string
	// Insecure lists registries that may be reached over plain HTTP or
	// with unverified TLS (the config's insecure_registries). Loopback
	// registries always may.
	Insecure []string
	// AnyInsecure lets this import reach any registry that way
	// (--tls-verify=false).
	AnyInsecure bool
	// Base is the rootfs an OCI application image is installed on
	// (--base-fs). DefaultBase (the config's default_base_fs) is used for
	// an image recognised as an application when Base is empty.
	Base, DefaultBase string
	// Mode is how an image is taken (--oci-mode): ModeAuto (or empty),
	// ModeBase or ModeApp.
	Mode string
}

// Result is the imported rootfs and what the user should know about it.
type Result struct {
	rootfs.Info
	// Warnings say why the tree may not boot as a container.
	Warnings []string `json:"warnings"`
}

// Import imports opts.Source as a rootfs of store, reporting progress to rep.
// It needs root (file owners, device nodes), which package engine checks.
func Import(ctx context.Context, store rootfs.Store, opts Options, rep progress.Reporter) (Result, error) {
	src, err := detect(opts.Source)
	if err != nil {
		return Result{}, err
	}
	if err := opts.checkMode(src); err != nil {
		return Result{}, err
	}
	name := opts.Name
	if name == "" {
		if name, err = src.defaultName(); err != nil {
			return Result{}, err
		}
	}
	if opts.Base != "" {
		// Checked before anything is fetched, and held to the end.
		l, err := useBase(store, opts.Base)
		if err != nil {
			return Result{}, err
		}
		defer l.Unlock()
	}
	txn, err := store.Begin(name, opts.Force)
	if err != nil {
		return Result{}, err
	}
	defer txn.Abort()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchSpace(ctx, txn.Root(), cancel)
	progress.Logf(rep, "importing %s %s as rootfs %q", src.kind, opts.Source, name)
	rec := record{Info: rootfs.Info{Source: src.arg, Kind: src.kind.String()}}
	if err := src.fill(ctx, txn, opts, rep, &rec); err != nil {
		if ctx.Err() != nil {
			// Cancelled (by the user, or by watchSpace): whatever broke
			// on the way is a consequence.
			return Result{}, context.Cause(ctx)
		}
		return Result{}, explain(err, store)
	}
	var res Result
	base := ""
	if rec.image != nil {
		var l *lock.Lock
		if base, l, err = opts.application(store, &rec, txn.Root()); err != nil {
			return Result{}, err
		}
		if l != nil {
			defer l.Unlock()
		}
	} else if opts.Base != "" || opts.Mode == ModeApp {
		return Result{}, fmt.Errorf("%s: not an OCI image, and only an image can be an application: %w", src.arg, errdefs.ErrInvalidArgument)
	}
	if base != "" {
		progress.Logf(rep, "installing the application on base rootfs %q", base)
		if res.Warnings, err = installApp(txn, &rec, base); err != nil {
			return Result{}, explain(err, store)
		}
	} else {
		res.Warnings = inspect(txn.Root(), &rec.Info)
	}
	if res.Info, err = txn.Commit(rec.Info); err != nil {
		return Result{}, explain(err, store)
	}
	return res, nil
}

// explain turns low-level failures into what the user needs to hear.
func explain(err error, store rootfs.Store) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("disk full: no space left for the rootfs in %s: %w", store.Path(""), err)
	}
	return err
}
