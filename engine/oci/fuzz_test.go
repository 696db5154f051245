package oci

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/mediatype"
)

// The fuzz targets read trees whose metadata the fuzzer writes. So that
// it can keep references between files valid while it changes the rest,
// a template's placeholders become the digests and sizes of the tree's
// blobs:
//
//	$ld $ls  the layer: a tar of one file
//	$cd $cs  the config (layouts)
//	$md $ms  the manifest (layouts)
//	$nd $ns  an index (layouts)
//	$sd $ss  a secret outside the tree that a symlink inside leads to
//	$fd $fs  a FIFO
//
// Whatever the fuzzer writes, reading must not panic, block, or yield the
// secret.

// secretConfig is valid as a config and as JSON anywhere: a reader that
// follows the symlink out would accept it, and say "secret".
var secretConfig = []byte(`{"architecture":"secret","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)

type fuzzTree struct {
	*tree
	vars map[string]string
}

func newFuzzTree(t *testing.T) *fuzzTree {
	ft := &fuzzTree{tree: newTree(t), vars: map[string]string{}}
	layer := layerTar(t, "etc/os-release", "ID=fuzz\n")
	ft.blobVars("$l", mediatype.OCI1Layer, layer)
	// The secret: a blob named by its digest, a symlink to outside.
	sd := digest.FromBytes(secretConfig)
	ft.vars["$sd"], ft.vars["$ss"] = sd.String(), strconv.Itoa(len(secretConfig))
	secret := ft.secret("secret", secretConfig)
	for _, name := range []string{filepath.Join("blobs/sha256", sd.Encoded()), "secret.json"} {
		ft.write(name, nil)
		ft.replace(name, secret)
	}
	// The FIFO, as a blob and as a file.
	fd := digest.FromString("fifo")
	ft.vars["$fd"], ft.vars["$fs"] = fd.String(), "4"
	for _, name := range []string{filepath.Join("blobs/sha256", fd.Encoded()), "fifo"} {
		ft.write(name, nil)
		ft.replace(name, "")
	}
	return ft
}

// blobVars stores data as a blob and sets the placeholders prefix+"d"
// and prefix+"s" to its digest and size.
func (ft *fuzzTree) blobVars(prefix, mt string, data []byte) {
	d := ft.blob(mt, data)
	ft.vars[prefix+"d"], ft.vars[prefix+"s"] = d.Digest.String(), strconv.FormatInt(d.Size, 10)
}

func (ft *fuzzTree) expand(template []byte) []byte {
	for k, v := range ft.vars {
		template = bytes.ReplaceAll(template, []byte(k), []byte(v))
	}
	return template
}

// checkImage reads every layer of an image that was read without error:
// none may be the secret, and no read may block.
func checkImage(t *testing.T, img *Image) {
	if img.Config.Architecture == "secret" {
		t.Fatal("the config was read through a symlink out of the tree")
	}
	for _, l := range img.Layers {
		var data []byte
		err := within(t, "a layer", func() error {
			rc, err := l.open(context.Background())
			if err != nil {
				return err
			}
			defer rc.Close()
			data, err = io.ReadAll(rc)
			return err
		})
		if err == nil && bytes.Equal(data, secretConfig) {
			t.Fatal("a layer was read through a symlink out of the tree")
		}
	}
}

const (
	fuzzIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$md","size":$ms,` +
		`"platform":{"os":"linux","architecture":"amd64"}}]}`
	fuzzManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$cd","size":$cs},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$ld","size":$ls}]}`
	fuzzConfig = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["$ld"]}}`
)

func FuzzLayout(f *testing.F) {
	index, manifest, config := []byte(fuzzIndex), []byte(fuzzManifest), []byte(fuzzConfig)
	swap := func(b []byte, old, new string) []byte { return bytes.ReplaceAll(b, []byte(old), []byte(new)) }
	f.Add(index, []byte(nil), manifest, config)
	// A nested index: index.json -> an index ($nd) -> the manifest.
	f.Add(swap(swap(index, "$m", "$n"), mediatype.OCI1Manifest, mediatype.OCI1ManifestList), index, manifest, config)
	// Docker's media types.
	f.Add(swap(index, mediatype.OCI1Manifest, mediatype.Docker2Manifest), []byte(nil),
		swap(manifest, mediatype.OCI1Manifest, mediatype.Docker2Manifest), config)
	// References to the secret and the FIFO, as each kind of metadata.
	for _, s := range []string{"$s", "$f"} {
		f.Add(swap(index, "$m", s), []byte(nil), manifest, config)
		f.Add(index, []byte(nil), swap(manifest, "$c", s), config)
		f.Add(index, []byte(nil), swap(manifest, "$l", s), config)
	}
	// A size over the limit. (Files over it are too large for a corpus.)
	f.Add(index, []byte(nil), swap(manifest, "$cs", "5368709120"), config)
	// A digest that climbs, one of an unknown algorithm.
	f.Add(swap(index, "$md", "sha256:../../../outside/secret"), []byte(nil), manifest, config)
	f.Add(swap(index, "$md", "md5:d41d8cd98f00b204e9800998ecf8427e"), []byte(nil), manifest, config)

	f.Fuzz(func(t *testing.T, index, nested, manifest, config []byte) {
		ft := newFuzzTree(t)
		ft.blobVars("$c", mediatype.OCI1ImageConfig, ft.expand(config))
		ft.blobVars("$m", mediatype.OCI1Manifest, ft.expand(manifest))
		ft.blobVars("$n", mediatype.OCI1ManifestList, ft.expand(nested))
		ft.write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
		ft.write("index.json", ft.expand(index))
		var img *Image
		err := within(t, "Layout", func() (err error) {
			img, err = Layout(context.Background(), ft.dir, "linux/amd64")
			return err
		})
		if err == nil {
			checkImage(t, img)
		}
	})
}

const fuzzDockerManifest = `[{"Config":"cfg.json","RepoTags":["fuzz:latest"],"Layers":["abc/layer.tar"]}]`

func FuzzDockerArchive(f *testing.F) {
	f.Add([]byte(fuzzDockerManifest), []byte(fuzzConfig))
	for _, name := range []string{"secret.json", "fifo", "/../../outside/secret", "abc", "/dev/zero", ""} {
		f.Add([]byte(`[{"Config":"`+name+`","Layers":["abc/layer.tar"]}]`), []byte(fuzzConfig))
		f.Add([]byte(`[{"Config":"cfg.json","Layers":["`+name+`"]}]`), bytes.ReplaceAll([]byte(fuzzConfig), []byte("$ld"), []byte("$sd")))
	}
	f.Add([]byte(`[]`), []byte(fuzzConfig))

	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		ft := newFuzzTree(t)
		data, err := os.ReadFile(filepath.Join(ft.dir, blobPathOf(ft.vars["$ld"])))
		if err != nil {
			t.Fatal(err)
		}
		ft.write("abc/layer.tar", data)
		ft.write("cfg.json", ft.expand(config))
		ft.write("manifest.json", ft.expand(manifest))
		var img *Image
		err = within(t, "DockerArchive", func() (err error) { img, err = DockerArchive(ft.dir); return err })
		if err == nil {
			checkImage(t, img)
		}
	})
}

func blobPathOf(d string) string {
	return filepath.Join("blobs", "sha256", digest.Digest(d).Encoded())
}

// TestMain caps the time the fuzzer spends minimizing an input, unless
// -test.fuzzminimizetime says otherwise: each run of these targets writes
// a tree, and at the default 60 s a new input stops fuzzing for a minute
// (as in engine/archive).
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		flag.Set("test.fuzzminimizetime", "5s")
	}
	os.Exit(m.Run())
}
