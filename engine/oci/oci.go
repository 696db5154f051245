// Package oci reads OCI images (from a registry, an OCI image layout or a
// `docker save` archive) and unpacks them into a directory.
//
// Every source yields an Image: its configuration and its layers, each of
// which opens as a stream that is verified against its digest as it is
// read. Unpack applies the layers in order with OCI whiteout semantics,
// fetching the next layers while the current one is being written.
package oci

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"

	"github.com/sdme/sdme/engine/errdefs"
)

// Image is an image ready to unpack.
type Image struct {
	// Ref names the image as it was resolved (registry/repo:tag or a path).
	Ref string
	// Digest is the digest of the manifest (or index) the reference named;
	// empty for a docker save archive, which has none.
	Digest string
	// Platform is the platform of the chosen manifest (os/arch[/variant]).
	Platform string
	Config   v1.Image
	Layers   []Layer
}

// Layer is one filesystem layer of an image.
type Layer struct {
	Digest    string
	MediaType string
	// Size is the size of the stored blob, or -1 if unknown.
	Size int64
	// open returns the blob; reading it to EOF verifies its digest.
	open func(ctx context.Context) (io.ReadCloser, error)
}

// layerTypes are the layer media types sdme unpacks. Compression is
// detected from the bytes, so gzip and zstd need no distinction here.
var layerTypes = map[string]bool{
	mediatype.OCI1Layer:            true,
	mediatype.OCI1LayerGzip:        true,
	mediatype.OCI1LayerZstd:        true,
	mediatype.Docker2Layer:         true,
	mediatype.Docker2LayerGzip:     true,
	mediatype.Docker2LayerZstd:     true,
	mediatype.OCI1ForeignLayer:     true,
	mediatype.OCI1ForeignLayerGzip: true,
	mediatype.Docker2ForeignLayer:  true,
	"":                             true, // docker save archives carry none
}

func checkLayerType(ref, digest, mt string) error {
	if !layerTypes[mt] {
		return fmt.Errorf("image %s: layer %s has media type %q, which is not a filesystem layer sdme can unpack: %w", ref, digest, mt, errdefs.ErrUnsupported)
	}
	return nil
}

// ParsePlatform parses os/arch[/variant]; empty means this machine's.
func ParsePlatform(s string) (platform.Platform, error) {
	if s == "" {
		return platform.Local(), nil
	}
	p, err := platform.Parse(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return p, fmt.Errorf("platform %q: want os/arch[/variant], like linux/arm64: %w", s, errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// classify maps regclient's errors onto the engine's classes, keeping the
// message, which already names the reference.
func classify(err error) error {
	var class error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, errs.ErrNotFound), errors.Is(err, errs.ErrFileNotFound):
		class = errdefs.ErrNotFound
	case errors.Is(err, errs.ErrDigestMismatch), errors.Is(err, errs.ErrShortRead),
		errors.Is(err, errs.ErrSizeLimitExceeded), errors.Is(err, errs.ErrParsingFailed):
		class = errdefs.ErrCorrupt
	case errors.Is(err, errs.ErrUnsupportedMediaType), errors.Is(err, errs.ErrUnsupported):
		class = errdefs.ErrUnsupported
	case errors.Is(err, errs.ErrInvalidReference):
		class = errdefs.ErrInvalidArgument
	default:
		class = errdefs.ErrTransfer
	}
	if errors.Is(err, class) {
		return err
	}
	return fmt.Errorf("%w: %w", err, class)
}
