package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"

	"github.com/sdme/sdme/engine/errdefs"
)

// store is where the manifests and blobs of an image come from: a
// registry or an OCI layout. Its errors name the blob, not the image.
type store interface {
	// manifest fetches the manifest or index d describes, at most
	// maxMetadata bytes of it.
	manifest(ctx context.Context, d descriptor.Descriptor) (manifest.Manifest, error)
	// blob opens the blob d describes: reading it fails once it runs past
	// d.Size, and at its end if its digest is not d.Digest.
	blob(ctx context.Context, d descriptor.Descriptor) (io.ReadCloser, error)
}

// resolvePlatform follows an index (possibly nested) to the manifest for plat.
func resolvePlatform(ctx context.Context, s store, m manifest.Manifest, plat platform.Platform, name string) (manifest.Manifest, error) {
	for depth := 0; m.IsList(); depth++ {
		if depth > 3 {
			return nil, fmt.Errorf("image %s: indexes nested too deep: %w", name, errdefs.ErrUnsupported)
		}
		d, err := manifest.GetPlatformDesc(m, &plat)
		if err != nil {
			return nil, noPlatform(name, m, plat)
		}
		if err := checkDeclared("manifest "+d.Digest.String(), d.Size); err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		if m, err = s.manifest(ctx, *d); err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
	}
	return m, nil
}

func noPlatform(name string, m manifest.Manifest, plat platform.Platform) error {
	var have []string
	if list, err := manifest.GetPlatformList(m); err == nil {
		for _, p := range list {
			if p != nil && p.OS != "unknown" {
				have = append(have, p.String())
			}
		}
	}
	return &errdefs.Error{Err: fmt.Errorf("image %s has no manifest for platform %s (it has: %s): %w",
		name, plat, strings.Join(have, ", "), errdefs.ErrUnsupported), Hint: errdefs.HintPlatform}
}

// imageFrom reads the config of image manifest m and describes its layers.
func imageFrom(ctx context.Context, s store, m manifest.Manifest, plat platform.Platform, img *Image) (*Image, error) {
	mi, ok := m.(manifest.Imager)
	if !ok {
		return nil, fmt.Errorf("image %s: manifest of type %q is not an image: %w", img.Ref, m.GetDescriptor().MediaType, errdefs.ErrUnsupported)
	}
	cd, err := mi.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Ref, classify(err))
	}
	if img.Config, err = readConfig(ctx, s, cd); err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Ref, err)
	}
	got := platform.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
	if got.Architecture != "" && !platform.Compatible(plat, got) {
		return nil, &errdefs.Error{Err: fmt.Errorf("image %s is for %s, not %s: %w", img.Ref, got, plat, errdefs.ErrUnsupported), Hint: errdefs.HintPlatform}
	}
	img.Platform = got.String()
	layers, err := mi.GetLayers()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Ref, classify(err))
	}
	for _, d := range layers {
		if err := checkLayerType(img.Ref, d.Digest.String(), d.MediaType); err != nil {
			return nil, err
		}
		img.Layers = append(img.Layers, Layer{
			Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size,
			open: func(ctx context.Context) (io.ReadCloser, error) { return s.blob(ctx, d) },
		})
	}
	return img, nil
}

// readConfig reads an image config, refusing one larger than maxMetadata
// before it is fetched.
func readConfig(ctx context.Context, s store, d descriptor.Descriptor) (v1.Image, error) {
	var cfg v1.Image
	if err := checkDeclared("config", d.Size); err != nil {
		return cfg, err
	}
	rc, err := s.blob(ctx, d)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	defer rc.Close()
	data, err := readMetadata(rc, "config")
	if errors.Is(err, errdefs.ErrUnsupported) {
		return cfg, err // it says "config" already
	}
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config: %w: %w", err, errdefs.ErrCorrupt)
	}
	return cfg, nil
}
