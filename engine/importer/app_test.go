package importer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/regclient/regclient/types/oci/v1"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/oci"
	"github.com/sdme/sdme/engine/rootfs"
)

// The application check: an image with something to run and no systemd is
// an application, which needs a base; anything else stays a rootfs.
func TestApplicationCheck(t *testing.T) {
	app, distro := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(distro, "usr/lib/systemd"), 0o755)
	os.WriteFile(filepath.Join(distro, "usr/lib/systemd/systemd"), nil, 0o755)
	rec := func(entry, cmd []string) *record {
		img := &oci.Image{}
		img.Config.Config = v1.ImageConfig{Entrypoint: entry, Cmd: cmd}
		return &record{Info: rootfs.Info{Source: "registry/app"}, image: img}
	}
	store := rootfs.New(t.TempDir())
	for _, c := range []struct {
		name     string
		opts     Options
		rec      *record
		tree     string
		wantBase string
		wantHint bool
	}{
		{"application, no base", Options{}, rec(nil, []string{"/bin/app"}), app, "", true},
		{"entrypoint alone, no base", Options{}, rec([]string{"/bin/app"}, nil), app, "", true},
		{"a distro with systemd", Options{}, rec(nil, []string{"/bin/bash"}), distro, "", false},
		{"nothing to run", Options{}, rec(nil, nil), app, "", false},
		{"plain on request", Options{Mode: ModeBase}, rec(nil, []string{"/bin/app"}), app, "", false},
		{"base named", Options{Base: "debian"}, rec(nil, []string{"/bin/bash"}), distro, "debian", false},
		{"app mode, no base", Options{Mode: ModeApp}, rec(nil, []string{"/bin/bash"}), distro, "", true},
	} {
		base, l, err := c.opts.application(store, c.rec, c.tree)
		if l != nil {
			l.Unlock()
		}
		var e *errdefs.Error
		gotHint := errors.As(err, &e) && e.Hint == errdefs.HintBase
		if base != c.wantBase || gotHint != c.wantHint || (err != nil) != c.wantHint {
			t.Errorf("%s: base %q, err %v", c.name, base, err)
		}
	}
}

func TestCheckMode(t *testing.T) {
	reg := source{kindRegistry, "r/app"}
	for _, c := range []struct {
		opts Options
		src  source
		ok   bool
	}{
		{Options{}, reg, true},
		{Options{Mode: ModeApp, Base: "b"}, reg, true},
		{Options{Mode: "nonsense"}, reg, false},
		{Options{Mode: ModeBase, Base: "b"}, reg, false},
		{Options{Base: "b"}, source{kindDirectory, "/tmp/x"}, false},
		{Options{Mode: ModeApp}, source{kindDisk, "/tmp/x.qcow2"}, false},
		// A tarball may hold an OCI layout: known only once it is read.
		{Options{Base: "b"}, source{kindTarball, "/tmp/x.tar"}, true},
		{Options{DefaultBase: "b"}, source{kindDirectory, "/tmp/x"}, true},
	} {
		err := c.opts.checkMode(c.src)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v %v: %v", c.opts, c.src, err)
		}
	}
}
