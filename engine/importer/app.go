package importer

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/rootfs"
)

// How an image is taken (--oci-mode).
const (
	// ModeAuto recognises an application image: no systemd inside, and
	// an Entrypoint or Cmd to run.
	ModeAuto = "auto"
	// ModeBase imports any image as a plain rootfs.
	ModeBase = "base"
	// ModeApp imports the image as an application, whatever it holds.
	ModeApp = "app"
)

// checkMode refuses options that contradict each other, before anything
// is fetched.
func (o Options) checkMode(src source) error {
	switch o.Mode {
	case "", ModeAuto, ModeBase, ModeApp:
	default:
		return fmt.Errorf("OCI mode %q: want auto, base or app: %w", o.Mode, errdefs.ErrInvalidArgument)
	}
	if o.Base != "" && o.Mode == ModeBase {
		return fmt.Errorf("base rootfs %q: a base is for an application, and OCI mode base imports a plain rootfs: %w", o.Base, errdefs.ErrInvalidArgument)
	}
	if (o.Base != "" || o.Mode == ModeApp) && (src.kind == kindDirectory || src.kind == kindDisk) {
		return fmt.Errorf("%s: a %s is not an OCI image, and only an image can be an application: %w", src.arg, src.kind, errdefs.ErrInvalidArgument)
	}
	return nil
}

// useBase holds rootfs name as the base of an application being imported
// (so that it cannot be removed meanwhile) after checking that it can be
// one: a rootfs of its own, with systemd.
func useBase(store rootfs.Store, name string) (*lock.Lock, error) {
	l, err := store.Use(name)
	if err != nil {
		return nil, err
	}
	fail := func(why string) (*lock.Lock, error) {
		l.Unlock()
		return nil, &errdefs.Error{Kind: errdefs.Rootfs, Name: name, Err: fmt.Errorf("cannot be a base: %s: %w", why, errdefs.ErrInvalidArgument)}
	}
	if store.Base(name) != "" {
		return fail("it is an application itself")
	}
	if !anyExists(store.Path(name), systemdPaths) {
		return fail("it has no systemd to run the application")
	}
	return l, nil
}

// application decides whether the image just unpacked at root becomes an
// application, and on which base: the one named, else for a recognised
// application the configured default. It returns "" for a plain rootfs,
// and the base's lock, held until the import ends.
func (o Options) application(store rootfs.Store, rec *record, root string) (string, *lock.Lock, error) {
	if o.Mode == ModeBase {
		return "", nil, nil
	}
	if o.Base != "" {
		return o.Base, nil, nil // held since the import began
	}
	cfg := rec.image.Config.Config
	hasCommand := len(cfg.Entrypoint) > 0 || len(cfg.Cmd) > 0
	if o.Mode != ModeApp && (!hasCommand || anyExists(root, systemdPaths)) {
		return "", nil, nil
	}
	if o.DefaultBase == "" {
		why := "its OCI mode is app"
		if o.Mode != ModeApp {
			why = fmt.Sprintf("it has no systemd, and runs %s", strings.Join(append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), " "))
		}
		return "", nil, &errdefs.Error{Err: fmt.Errorf("image %s is an application (%s): sdme runs an application as a service of a base rootfs, and none was named: %w",
			rec.Source, why, errdefs.ErrInvalidArgument), Hint: errdefs.HintBase}
	}
	l, err := useBase(store, o.DefaultBase)
	if err != nil {
		return "", nil, fmt.Errorf("default_base_fs: %w", err)
	}
	return o.DefaultBase, l, nil
}

// installApp makes the unpacked image an application of base, and
// returns what the user should know of it.
func installApp(txn *rootfs.Txn, rec *record, base string) ([]string, error) {
	img := rec.image
	app, warns, err := ociapp.FromImage(ociapp.Image{Ref: rec.Source, Digest: img.Digest, Config: img.Config.Config}, txn.Root())
	if err != nil {
		return nil, err
	}
	if err := ociapp.Install(txn.Root(), txn.Work(), app); err != nil {
		return nil, fmt.Errorf("install the application: %w", err)
	}
	rec.Base, rec.App = base, &app
	osr := osRelease(filepath.Join(txn.Root(), ociapp.Root))
	rec.Distro = osr["PRETTY_NAME"]
	return warns, nil
}
