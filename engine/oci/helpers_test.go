package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"
	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/progress"
)

// tree is a directory being made into an OCI layout or a docker save
// archive, next to a directory outside it that holds what it must not
// reach.
type tree struct {
	t       testing.TB
	dir     string
	outside string
}

func newTree(t testing.TB) *tree {
	base := t.TempDir()
	tr := &tree{t: t, dir: filepath.Join(base, "tree"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{tr.dir, tr.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// write puts data at name inside the tree.
func (tr *tree) write(name string, data []byte) {
	p := filepath.Join(tr.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// replace makes name a symlink to target, or with target "" a FIFO.
func (tr *tree) replace(name, target string) {
	p := filepath.Join(tr.dir, name)
	os.Remove(p)
	var err error
	if target == "" {
		err = unix.Mkfifo(p, 0o644)
	} else {
		err = os.Symlink(target, p)
	}
	if err != nil {
		tr.t.Fatal(err)
	}
}

// secret writes a file outside the tree and returns its path.
func (tr *tree) secret(name string, data []byte) string {
	p := filepath.Join(tr.outside, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tr.t.Fatal(err)
	}
	return p
}

// blob stores data as a blob of the layout and describes it.
func (tr *tree) blob(mt string, data []byte) descriptor.Descriptor {
	d := descriptor.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	tr.write(blobPath(d), data)
	return d
}

func blobPath(d descriptor.Descriptor) string {
	return filepath.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
}

func mustJSON(t testing.TB, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// layerTar is a layer of one file.
func layerTar(t testing.TB, name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func configJSON(t testing.TB, arch string, diffIDs ...digest.Digest) []byte {
	var cfg v1.Image
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.RootFS.Type, cfg.RootFS.DiffIDs = "layers", diffIDs
	return mustJSON(t, cfg)
}

// testImage is what a layout made by layout holds.
type testImage struct {
	index, manifest, config, layer descriptor.Descriptor
}

// layout makes the tree an OCI layout of one image, with one layer
// holding etc/os-release.
func (tr *tree) layout() testImage {
	var img testImage
	layer := layerTar(tr.t, "etc/os-release", "ID=layout\n")
	img.layer = tr.blob(mediatype.OCI1Layer, layer)
	img.config = tr.blob(mediatype.OCI1ImageConfig, configJSON(tr.t, platform.Local().Architecture, img.layer.Digest))
	img.manifest = tr.manifestBlob(img.config, img.layer)
	tr.write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	tr.writeIndex(img.manifest)
	return img
}

func (tr *tree) manifestBlob(config descriptor.Descriptor, layers ...descriptor.Descriptor) descriptor.Descriptor {
	m := v1.Manifest{MediaType: mediatype.OCI1Manifest, Config: config, Layers: layers}
	m.SchemaVersion = 2
	return tr.blob(mediatype.OCI1Manifest, mustJSON(tr.t, m))
}

func (tr *tree) writeIndex(ds ...descriptor.Descriptor) {
	idx := v1.Index{MediaType: mediatype.OCI1ManifestList, Manifests: ds}
	idx.SchemaVersion = 2
	tr.write("index.json", mustJSON(tr.t, idx))
}

// dockerArchive makes the tree a docker save archive of one image.
func (tr *tree) dockerArchive() (layer []byte) {
	layer = layerTar(tr.t, "etc/os-release", "ID=docker\n")
	tr.write("abc/layer.tar", layer)
	tr.write("cfg.json", configJSON(tr.t, platform.Local().Architecture, digest.FromBytes(layer)))
	tr.write("manifest.json", []byte(`[{"Config":"cfg.json","RepoTags":["test:latest"],"Layers":["abc/layer.tar"]}]`))
	return layer
}

// within runs f, failing the test if it has not returned after a while:
// what it reads must never block.
func within(t testing.TB, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocks", what)
		return nil
	}
}

// unpack resolves an image with open and unpacks it into a new directory.
func unpack(ctx context.Context, open func() (*Image, error), dir string) error {
	img, err := open()
	if err != nil {
		return err
	}
	return img.Unpack(ctx, dir, progress.Discard)
}
