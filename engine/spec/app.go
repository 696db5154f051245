package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/copytree"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/systemd"
)

// App is the OCI application a container runs when its rootfs is an
// application (imported with --base-fs): the unit sdme-oci-app.service of
// the rootfs runs it, through this binary (see package ociapp), which
// nspawn binds into the container. The image's volumes are directories
// of the container, outside its layers, bound into the application's
// root; they live and die with the container. With OCIPod, the
// application alone joins a pod's network namespace, while the
// container's systemd keeps its own network.
type App struct {
	// OCIApp marks a container whose rootfs is an application. It is set
	// at create from the rootfs, as are OCIVolumes.
	OCIApp bool `json:"ociApp,omitempty"`
	// OCIPod is the pod of the application alone (--oci-pod).
	OCIPod string `json:"ociPod,omitempty"`
	// OCIVolumes are the image's volumes, paths in the application's root.
	OCIVolumes []string `json:"ociVolumes,omitempty"`
}

func (a *App) check() error {
	if a.OCIPod != "" {
		if err := names.Validate(a.OCIPod); err != nil {
			return fmt.Errorf("oci-pod: %w", err)
		}
		if !a.OCIApp {
			return Invalid("oci-pod", a.OCIPod, "the rootfs is not an OCI application (one imported with --base-fs), so there is no application to put in the pod")
		}
	}
	for _, v := range a.OCIVolumes {
		if _, err := ociapp.CheckVolume(v); err != nil {
			return Invalid("volume", v, err.Error())
		}
	}
	return nil
}

func (a *App) plan(in Input, p *Plan) error {
	if !a.OCIApp {
		return nil
	}
	if in.Programs.Sdme == "" || strings.ContainsAny(in.Programs.Sdme, ":\\") {
		return fmt.Errorf("the path of sdme %q cannot be bound into the container", in.Programs.Sdme)
	}
	p.Nspawn = append(p.Nspawn, "--bind-ro="+in.Programs.Sdme+":"+ociapp.Helper)
	for _, v := range a.OCIVolumes {
		dir := in.Layout.Volume(in.Name, v)
		// Made with the image's content at create; an empty one if it has
		// gone since, rather than a container that does not start.
		p.Dirs = append(p.Dirs, dir)
		p.Nspawn = append(p.Nspawn, "--bind="+dir+":"+ociapp.VolumesDir+"/"+layout.VolumeName(v)+in.bindIDMap())
	}
	if a.OCIPod != "" {
		p.Pre = append(p.Pre, []string{in.Programs.Sdme, "pod", "ensure", a.OCIPod})
		p.Nspawn = append(p.Nspawn, "--bind-ro="+layout.PodNetns(a.OCIPod)+":"+ociapp.PodNetns)
	}
	return nil
}

// Settings are the container's own settings of the application's
// service, beyond the unit of its rootfs: its volumes and its pod. `sdme
// exec --oci` applies them too.
func (a *App) Settings() []systemd.Setting {
	out := ociapp.VolumeBinds(a.OCIVolumes)
	if a.OCIPod != "" {
		out = append(out, systemd.Set("NetworkNamespacePath", ociapp.PodNetns))
	}
	return out
}

// prepare makes the volumes, with what the image has at their paths, as
// Docker fills a new volume, and writes the container's settings of the
// application's service as a drop-in of it.
func (a *App) prepare(ctx context.Context, t Tree) error {
	if !a.OCIApp {
		return nil
	}
	for _, v := range a.OCIVolumes {
		if err := makeVolume(ctx, t, v); err != nil {
			return fmt.Errorf("volume %s: %w", v, err)
		}
	}
	settings := a.Settings()
	if len(settings) == 0 {
		return nil
	}
	text, err := systemd.RenderDropin([]systemd.Section{{Name: "Service", Settings: settings}})
	if err != nil {
		return err
	}
	dir := "/" + systemUnits + "/" + ociapp.Unit + ".d"
	if err := mkdirLike(t, dir); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(t.Upper, dir, "sdme.conf"), []byte(text), 0o644)
}

// makeVolume makes the directory of volume v and copies into it what the
// application's layer has at v. The layer is the image's: a symlink on
// the way (data -> /etc) would lead the copy out of it, so only a path of
// real directories is copied; anything else gives an empty volume.
func makeVolume(ctx context.Context, t Tree, v string) error {
	dst := t.Layout.Volume(t.Name, v)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	src := filepath.Join(t.Lowers[0], ociapp.Root)
	for _, part := range strings.Split(strings.Trim(v, "/"), "/") {
		src = filepath.Join(src, part)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) || err == nil && !fi.IsDir() {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return copytree.Copy(ctx, src, dst, nil)
}

func (a *App) encode(kv map[string]string) {
	if a.OCIApp {
		kv["OCI_APP"] = "app"
	}
	if a.OCIPod != "" {
		kv["OCI_POD"] = a.OCIPod
	}
	if len(a.OCIVolumes) > 0 {
		kv["OCI_VOLUMES"] = strings.Join(a.OCIVolumes, ",")
	}
}

func (a *App) decode(take func(string) string) error {
	a.OCIApp = take("OCI_APP") != ""
	a.OCIPod = take("OCI_POD")
	if a.OCIPod != "" && names.Validate(a.OCIPod) != nil {
		return errors.New("OCI_POD is not a name")
	}
	a.OCIVolumes = splitList(take("OCI_VOLUMES"), ",")
	for _, v := range a.OCIVolumes {
		if _, err := ociapp.CheckVolume(v); err != nil {
			return errors.New("OCI_VOLUMES has an entry that is not a volume path")
		}
	}
	return nil
}
