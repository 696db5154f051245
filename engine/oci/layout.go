package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
)

// Layouts and docker save archives are trees that someone else wrote:
// every file of them is opened inside the tree (engine/intree), so that
// index.json -> /dev/zero or a blob -> /etc/shadow mean the tree's own
// /dev/zero and /etc/shadow, and only regular files are opened at all (a
// FIFO would block the import for good). That is also why sdme reads
// layouts itself rather than through regclient's ocidir, which opens
// paths as they are.

// IsLayout reports whether dir is an OCI image layout: it has an entry
// named oci-layout. Whatever that entry is, even a symlink that leads
// nowhere, makes dir a layout, to be read (and refused) as one.
func IsLayout(dir string) bool {
	return hasEntry(dir, "oci-layout")
}

// IsDockerArchive reports whether dir is an unpacked `docker save`
// archive of the classic format (manifest.json without an OCI layout;
// newer docker writes both, and the layout is read instead).
func IsDockerArchive(dir string) bool {
	return hasEntry(dir, "manifest.json") && !IsLayout(dir)
}

func hasEntry(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}

// Layout resolves the image in the OCI image layout at dir: the only
// manifest of its index, or the one for the platform (empty: this
// machine's) when it holds several.
func Layout(ctx context.Context, dir, plat string) (*Image, error) {
	p, err := ParsePlatform(plat)
	if err != nil {
		return nil, err
	}
	l := &layout{dir: dir}
	var idx v1.Index
	if err := readJSONIn(dir, "index.json", &idx); err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	d, err := pickManifest(dir, idx.Manifests, p)
	if err != nil {
		return nil, err
	}
	if err := checkDeclared("manifest "+d.Digest.String(), d.Size); err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := l.manifest(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	img := &Image{Ref: dir, Digest: d.Digest.String()}
	if m, err = resolvePlatform(ctx, l, m, p, dir); err != nil {
		return nil, err
	}
	return imageFrom(ctx, l, m, p, img)
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

// layout is the store of an OCI image layout: its blobs are files named
// by their digests, blobs/ALGORITHM/ENCODED.
type layout struct{ dir string }

func (l *layout) manifest(ctx context.Context, d descriptor.Descriptor) (manifest.Manifest, error) {
	rc, err := l.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readMetadata(rc, "manifest "+d.Digest.String())
	if err != nil {
		return nil, err
	}
	m, err := manifest.New(manifest.WithDesc(d), manifest.WithRaw(data))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, classify(err))
	}
	return m, nil
}

// blob opens a blob of the layout, verified against its digest and size.
func (l *layout) blob(_ context.Context, d descriptor.Descriptor) (io.ReadCloser, error) {
	if err := validDigest(d.Digest); err != nil {
		return nil, err
	}
	f, err := openIn(l.dir, path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return newVerifier(f, d, true), nil
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
	if err := readJSONIn(dir, "manifest.json", &ms); err != nil {
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
	if err := readJSONIn(dir, m.Config, &img.Config); err != nil {
		return nil, fmt.Errorf("docker archive %s: config: %w", dir, err)
	}
	img.Platform = platform.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}.String()
	if len(img.Config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("docker archive %s: %d layers but %d diff IDs in its config: %w", dir, len(m.Layers), len(img.Config.RootFS.DiffIDs), errdefs.ErrCorrupt)
	}
	for i, file := range m.Layers {
		l, err := dockerLayer(dir, file, img.Config.RootFS.DiffIDs[i])
		if err != nil {
			return nil, fmt.Errorf("docker archive %s: layer %s: %w", dir, file, err)
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// dockerLayer describes the layer file of a docker save archive, an
// uncompressed tar whose digest is its diff ID.
func dockerLayer(dir, file string, diffID digest.Digest) (Layer, error) {
	if err := validDigest(diffID); err != nil {
		return Layer{}, err
	}
	fi, err := intree.Stat(dir, file)
	if err != nil {
		return Layer{}, treeError(err)
	}
	if !fi.Mode().IsRegular() {
		return Layer{}, fmt.Errorf("not a regular file: %w", errdefs.ErrCorrupt)
	}
	d := descriptor.Descriptor{Digest: diffID, Size: fi.Size()}
	return Layer{Digest: diffID.String(), Size: fi.Size(), open: func(context.Context) (io.ReadCloser, error) {
		f, err := openIn(dir, file)
		if err != nil {
			return nil, err
		}
		return newVerifier(f, d, true), nil
	}}, nil
}

// openIn opens the regular file name of the tree dir, inside it.
func openIn(dir, name string) (*os.File, error) {
	f, err := intree.Open(dir, name)
	if err != nil {
		return nil, treeError(err)
	}
	return f, nil
}

// readJSONIn decodes the metadata file name of the tree dir.
func readJSONIn(dir, name string, v any) error {
	f, err := openIn(dir, name)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := readMetadata(f, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w: %w", name, err, errdefs.ErrCorrupt)
	}
	return nil
}

// treeError says what is wrong with a file the tree names: it is not in
// the tree, or the tree's symlinks or directories do not lead to it.
func treeError(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err // intree's own, which names the file
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s is missing: %w", pe.Path, errdefs.ErrCorrupt)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%s: %w: %w", pe.Path, pe.Err, errdefs.ErrCorrupt)
	}
	return err
}
