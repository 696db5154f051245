package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/types"
	"github.com/regclient/regclient/types/descriptor"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"
	"github.com/regclient/regclient/types/ref"

	"github.com/sdme/sdme/engine/errdefs"
)

// IsLayout reports whether dir is an OCI image layout.
func IsLayout(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "oci-layout"))
	return err == nil
}

// IsDockerArchive reports whether dir is an unpacked `docker save`
// archive of the classic format (manifest.json without an OCI layout;
// newer docker writes both, and the layout is read instead).
func IsDockerArchive(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "manifest.json"))
	return err == nil && !IsLayout(dir)
}

// Layout resolves the image in the OCI image layout at dir: the only
// manifest of its index, or the one for the platform (empty: this
// machine's) when it holds several.
func Layout(ctx context.Context, dir, plat string) (*Image, error) {
	p, err := ParsePlatform(plat)
	if err != nil {
		return nil, err
	}
	var idx v1.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &idx); err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	d, err := pickManifest(dir, idx.Manifests, p)
	if err != nil {
		return nil, err
	}
	rc := regclient.New()
	r := ref.Ref{Scheme: "ocidir", Path: dir, Reference: "ocidir://" + dir}
	r = r.SetDigest(d.Digest.String())
	m, err := rc.ManifestGet(ctx, r, regclient.WithManifestDesc(d))
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, classify(err))
	}
	img := &Image{Ref: dir, Digest: d.Digest.String()}
	if m, err = resolvePlatform(ctx, rc, r, m, p, dir); err != nil {
		return nil, err
	}
	return imageFrom(ctx, rc, r, m, p, img)
}

// pickManifest chooses among the entries of a layout's index.json.
func pickManifest(dir string, ds []descriptor.Descriptor, p platform.Platform) (descriptor.Descriptor, error) {
	switch len(ds) {
	case 0:
		return descriptor.Descriptor{}, fmt.Errorf("OCI layout %s: its index.json lists no image: %w", dir, errdefs.ErrCorrupt)
	case 1:
		return ds[0], nil
	}
	var match []descriptor.Descriptor
	var names []string
	for _, d := range ds {
		if d.Platform != nil && platform.Compatible(p, *d.Platform) {
			match = append(match, d)
		}
		names = append(names, d.Annotations[types.AnnotationRefName])
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return descriptor.Descriptor{}, fmt.Errorf("OCI layout %s holds %d images (%s) and sdme cannot tell which one to import: %w",
		dir, len(ds), strings.Join(names, ", "), errdefs.ErrUnsupported)
}

// dockerManifest is an entry of a docker save archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// DockerArchive reads the unpacked `docker save` archive at dir. Its
// layers are verified against the diff IDs of the image config.
func DockerArchive(dir string) (*Image, error) {
	var ms []dockerManifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &ms); err != nil {
		return nil, fmt.Errorf("docker archive %s: %w", dir, err)
	}
	if len(ms) != 1 {
		return nil, fmt.Errorf("docker archive %s holds %d images; sdme imports archives of one image: %w", dir, len(ms), errdefs.ErrUnsupported)
	}
	m := ms[0]
	name := dir
	if len(m.RepoTags) > 0 {
		name = m.RepoTags[0]
	}
	img := &Image{Ref: name}
	cfgPath, err := securejoin.SecureJoin(dir, m.Config)
	if err != nil {
		return nil, err
	}
	if err := readJSON(cfgPath, &img.Config); err != nil {
		return nil, fmt.Errorf("docker archive %s: config: %w", dir, err)
	}
	img.Platform = platform.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}.String()
	if len(img.Config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("docker archive %s: %d layers but %d diff IDs in its config: %w", dir, len(m.Layers), len(img.Config.RootFS.DiffIDs), errdefs.ErrCorrupt)
	}
	for i, l := range m.Layers {
		path, err := securejoin.SecureJoin(dir, l)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("docker archive %s: layer %s: %w", dir, l, errdefs.ErrCorrupt)
		}
		want := img.Config.RootFS.DiffIDs[i].String()
		img.Layers = append(img.Layers, Layer{Digest: want, Size: fi.Size(),
			open: func(context.Context) (io.ReadCloser, error) { return openVerified(path, want) }})
	}
	return img, nil
}

// openVerified opens path as a stream whose sha256 must be want at EOF.
func openVerified(path, want string) (io.ReadCloser, error) {
	algo, hexsum, _ := strings.Cut(want, ":")
	if algo != "sha256" {
		return nil, fmt.Errorf("layer %s: digest algorithm %q: %w", path, algo, errdefs.ErrUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &verifier{f: f, h: sha256.New(), want: hexsum, name: path}, nil
}

type verifier struct {
	f    *os.File
	h    hash.Hash
	want string
	name string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("layer %s: digest mismatch (sha256 %s, want %s): %w", v.name, got, v.want, errdefs.ErrCorrupt)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: %w", filepath.Base(path), errdefs.ErrCorrupt)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %v: %w", filepath.Base(path), err, errdefs.ErrCorrupt)
	}
	return nil
}
