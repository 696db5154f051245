package oci

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/progress"
)

func TestLayoutUnpacks(t *testing.T) {
	tr := newTree(t)
	want := tr.layout()
	if !IsLayout(tr.dir) || IsDockerArchive(tr.dir) {
		t.Fatal("a layout is not taken for one")
	}
	img, err := Layout(t.Context(), tr.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != want.manifest.Digest.String() || len(img.Layers) != 1 {
		t.Fatalf("got digest %s, %d layers", img.Digest, len(img.Layers))
	}
	root := t.TempDir()
	if err := img.Unpack(t.Context(), root, progress.Discard); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/os-release")); string(data) != "ID=layout\n" {
		t.Fatalf("etc/os-release: %q", data)
	}
}

func TestLayoutNestedIndexByPlatform(t *testing.T) {
	tr := newTree(t)
	img := tr.layout()
	here := platform.Local()
	other := platform.Platform{OS: "linux", Architecture: "s390x"}
	if here.Architecture == other.Architecture {
		other.Architecture = "riscv64"
	}
	foreign := tr.manifestBlob(tr.blob(mediatype.OCI1ImageConfig, configJSON(t, other.Architecture, img.layer.Digest)), img.layer)
	foreign.Platform, img.manifest.Platform = &other, &here
	idx := v1.Index{MediaType: mediatype.OCI1ManifestList, Manifests: []descriptor.Descriptor{foreign, img.manifest}}
	idx.SchemaVersion = 2
	tr.writeIndex(tr.blob(mediatype.OCI1ManifestList, mustJSON(t, idx)))
	got, err := Layout(t.Context(), tr.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Platform != "linux/"+here.Architecture {
		t.Fatalf("platform %s, want linux/%s", got.Platform, here.Architecture)
	}
	if _, err := Layout(t.Context(), tr.dir, "linux/mips64"); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("a platform the index lacks: %v", err)
	}
}

// hostile is a tree made hostile, and what reading it must say.
type hostile struct {
	name   string
	spoil  func(tr *tree, img testImage)
	want   string // in the error
	class  error
	unpack bool // the error comes when the layer is read
	// partial: the layer is found wrong at its end, once applied (the
	// importer then removes the tree); otherwise nothing may be written.
	partial bool
}

var layoutCases = []hostile{
	{"index.json -> /dev/zero", func(tr *tree, _ testImage) { tr.replace("index.json", "/dev/zero") },
		"index.json is missing", errdefs.ErrCorrupt, false, false},
	{"index.json -> an index outside", func(tr *tree, _ testImage) {
		data, _ := os.ReadFile(filepath.Join(tr.dir, "index.json"))
		tr.replace("index.json", "../outside/"+filepath.Base(tr.secret("index.json", data)))
	}, "index.json is missing", errdefs.ErrCorrupt, false, false},
	{"index.json is a FIFO", func(tr *tree, _ testImage) { tr.replace("index.json", "") },
		"index.json is a FIFO, not a regular file", errdefs.ErrCorrupt, false, false},
	{"index.json is a directory", func(tr *tree, _ testImage) {
		os.Remove(filepath.Join(tr.dir, "index.json"))
		tr.write("index.json/x", nil)
	},
		"index.json is a directory", errdefs.ErrCorrupt, false, false},
	{"index.json of 5 MiB", func(tr *tree, _ testImage) { tr.write("index.json", bytes.Repeat([]byte(" "), 5<<20)) },
		"index.json is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported, false, false},
	{"index.json that is not JSON", func(tr *tree, _ testImage) { tr.write("index.json", []byte("{")) },
		"index.json: unexpected end of JSON input", errdefs.ErrCorrupt, false, false},
	{"blobs -> /", func(tr *tree, _ testImage) { os.RemoveAll(filepath.Join(tr.dir, "blobs")); tr.replace("blobs", "/") },
		"is missing", errdefs.ErrCorrupt, false, false},
	{"the manifest -> a manifest outside", func(tr *tree, img testImage) { tr.moveOut(img.manifest) },
		"is missing", errdefs.ErrCorrupt, false, false},
	{"the manifest declares 5 GiB", func(tr *tree, img testImage) {
		img.manifest.Size = 5 << 30
		tr.writeIndex(img.manifest)
		tr.replace(blobPath(img.manifest), "") // never opened
	}, "manifest " + "sha256:", errdefs.ErrUnsupported, false, false},
	{"the manifest is other bytes", func(tr *tree, img testImage) {
		tr.write(blobPath(img.manifest), bytes.Repeat([]byte(" "), int(img.manifest.Size)))
	}, "digest mismatch", errdefs.ErrCorrupt, false, false},
	{"a digest that climbs", func(tr *tree, img testImage) {
		img.manifest.Digest = digest.Digest("sha256:../../../outside/x")
		tr.writeIndex(img.manifest)
	}, `digest "sha256:../../../outside/x"`, errdefs.ErrCorrupt, false, false},
	{"the config -> a config outside", func(tr *tree, img testImage) { tr.moveOut(img.config) },
		"is missing", errdefs.ErrCorrupt, false, false},
	{"the config declares 5 GiB", func(tr *tree, img testImage) {
		img.config.Size = 5 << 30
		tr.writeIndex(tr.manifestBlob(img.config, img.layer))
		tr.replace(blobPath(img.config), "") // never opened
	}, "config of 5.0 GiB is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported, false, false},
	{"the config is longer than declared", func(tr *tree, img testImage) {
		img.config.Size--
		tr.writeIndex(tr.manifestBlob(img.config, img.layer))
	}, "larger than the", errdefs.ErrCorrupt, false, false},
	{"the config is a FIFO", func(tr *tree, img testImage) { tr.replace(blobPath(img.config), "") },
		"a FIFO, not a regular file", errdefs.ErrCorrupt, false, false},
	{"the layer -> a layer outside", func(tr *tree, img testImage) { tr.moveOut(img.layer) },
		"is missing", errdefs.ErrCorrupt, true, false},
	{"the layer is a FIFO", func(tr *tree, img testImage) { tr.replace(blobPath(img.layer), "") },
		"a FIFO, not a regular file", errdefs.ErrCorrupt, true, false},
}

// moveOut moves a blob outside the tree, leaving an absolute symlink to it.
func (tr *tree) moveOut(d descriptor.Descriptor) {
	data, err := os.ReadFile(filepath.Join(tr.dir, blobPath(d)))
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.replace(blobPath(d), tr.secret(d.Digest.Encoded(), data))
}

func TestHostileLayouts(t *testing.T) {
	for _, c := range layoutCases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t)
			c.spoil(tr, tr.layout())
			if !IsLayout(tr.dir) {
				t.Fatal("not taken for a layout")
			}
			var img *Image
			err := within(t, "Layout", func() (err error) { img, err = Layout(t.Context(), tr.dir, ""); return err })
			if c.unpack {
				if err != nil {
					t.Fatalf("Layout: %v", err)
				}
				err = within(t, "Unpack", func() error { return unpackClean(t, img, c.partial) })
			}
			checkRefusal(t, err, c)
		})
	}
}

// unpackClean unpacks img, which must fail, and checks it wrote nothing
// unless partial.
func unpackClean(t *testing.T, img *Image, partial bool) error {
	root := t.TempDir()
	err := img.Unpack(context.Background(), root, progress.Discard)
	if names, _ := os.ReadDir(root); len(names) > 0 && !partial {
		t.Errorf("the unpack wrote %s", names[0].Name())
	}
	return err
}

func checkRefusal(t *testing.T, err error, c hostile) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatal("read without an error")
	case !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.class):
		t.Fatalf("got %v; want %q and %v", err, c.want, c.class)
	case errors.Is(err, errdefs.ErrInvalidArgument):
		t.Fatalf("%v: the user's argument is fine, the tree is not", err)
	}
}

var dockerCases = []hostile{
	{"manifest.json -> /dev/zero", func(tr *tree, _ testImage) { tr.replace("manifest.json", "/dev/zero") },
		"manifest.json is missing", errdefs.ErrCorrupt, false, false},
	{"manifest.json is a FIFO", func(tr *tree, _ testImage) { tr.replace("manifest.json", "") },
		"manifest.json is a FIFO, not a regular file", errdefs.ErrCorrupt, false, false},
	{"manifest.json of 5 MiB", func(tr *tree, _ testImage) { tr.write("manifest.json", bytes.Repeat([]byte(" "), 5<<20)) },
		"manifest.json is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported, false, false},
	{"the config outside", func(tr *tree, _ testImage) {
		data, _ := os.ReadFile(filepath.Join(tr.dir, "cfg.json"))
		tr.write("manifest.json", []byte(`[{"Config":"../outside/cfg.json","Layers":["abc/layer.tar"]}]`))
		tr.secret("cfg.json", data)
	}, "../outside/cfg.json is missing", errdefs.ErrCorrupt, false, false},
	{"the config -> /dev/zero", func(tr *tree, _ testImage) { tr.replace("cfg.json", "/dev/zero") },
		"cfg.json is missing", errdefs.ErrCorrupt, false, false},
	{"the layer -> a layer outside", func(tr *tree, _ testImage) {
		data, _ := os.ReadFile(filepath.Join(tr.dir, "abc/layer.tar"))
		tr.replace("abc/layer.tar", tr.secret("layer.tar", data))
	}, "abc/layer.tar is missing", errdefs.ErrCorrupt, false, false},
	{"the layer is a FIFO", func(tr *tree, _ testImage) { tr.replace("abc/layer.tar", "") },
		"not a regular file", errdefs.ErrCorrupt, false, false},
	{"the layer is other bytes", func(tr *tree, _ testImage) {
		tr.write("abc/layer.tar", layerTar(tr.t, "etc/os-release", "ID=other\n"))
	}, "digest mismatch", errdefs.ErrCorrupt, true, true},
}

func TestDockerArchiveUnpacks(t *testing.T) {
	tr := newTree(t)
	tr.dockerArchive()
	if !IsDockerArchive(tr.dir) || IsLayout(tr.dir) {
		t.Fatal("a docker archive is not taken for one")
	}
	root := t.TempDir()
	if err := unpack(t.Context(), func() (*Image, error) { return DockerArchive(tr.dir) }, root); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/os-release")); string(data) != "ID=docker\n" {
		t.Fatalf("etc/os-release: %q", data)
	}
}

func TestHostileDockerArchives(t *testing.T) {
	for _, c := range dockerCases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t)
			tr.dockerArchive()
			c.spoil(tr, testImage{})
			if !IsDockerArchive(tr.dir) {
				t.Fatal("not taken for a docker archive")
			}
			var img *Image
			err := within(t, "DockerArchive", func() (err error) { img, err = DockerArchive(tr.dir); return err })
			if c.unpack {
				if err != nil {
					t.Fatalf("DockerArchive: %v", err)
				}
				err = within(t, "Unpack", func() error { return unpackClean(t, img, c.partial) })
			}
			checkRefusal(t, err, c)
		})
	}
}
