package oci

import (
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/progress"
)

// maxMetadata bounds an index, a manifest or an image config, each of
// which is read whole into memory: 4 MiB, as containerd bounds manifests.
// Real ones are a few KiB; a larger one is refused before it is fetched
// when its descriptor says so, and while it is read when it does not.
const maxMetadata = 4 << 20

// checkDeclared refuses metadata (what: "config", "manifest ...") whose
// descriptor declares more than maxMetadata bytes.
func checkDeclared(what string, size int64) error {
	if size > maxMetadata {
		return fmt.Errorf("%s of %s is larger than the %s sdme accepts: %w",
			what, progress.HumanBytes(size), progress.HumanBytes(maxMetadata), errdefs.ErrUnsupported)
	}
	return nil
}

// readMetadata reads the metadata r holds, at most maxMetadata bytes.
func readMetadata(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadata {
		return nil, fmt.Errorf("%s is larger than the %s sdme accepts: %w", what, progress.HumanBytes(maxMetadata), errdefs.ErrUnsupported)
	}
	return data, nil
}

// verifier reads a blob that its descriptor describes. It fails as soon
// as the blob runs past its declared size (a size of 0 or less is
// unknown), so that a source that lies about a size cannot make the
// reader take more than it was told; and at the end, if the blob is
// shorter or, when h is set, its digest differs.
type verifier struct {
	rc   io.ReadCloser
	d    descriptor.Descriptor
	h    hash.Hash // nil: the source verifies the digest itself
	read int64
}

// newVerifier verifies rc against d, whose digest validDigest accepted;
// hashing says whether to compute the digest.
func newVerifier(rc io.ReadCloser, d descriptor.Descriptor, hashing bool) *verifier {
	v := &verifier{rc: rc, d: d}
	if hashing {
		v.h = d.Digest.Algorithm().Hash()
	}
	return v
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.read += int64(n)
	if v.h != nil {
		v.h.Write(p[:n])
	}
	if v.d.Size > 0 && v.read > v.d.Size {
		return n, fmt.Errorf("blob %s is larger than the %d bytes its descriptor declares: %w", v.d.Digest, v.d.Size, errdefs.ErrCorrupt)
	}
	if err == io.EOF {
		if v.d.Size > 0 && v.read < v.d.Size {
			return n, fmt.Errorf("blob %s is truncated: %d of the %d bytes its descriptor declares: %w", v.d.Digest, v.read, v.d.Size, errdefs.ErrCorrupt)
		}
		if v.h != nil {
			if got := digest.NewDigest(v.d.Digest.Algorithm(), v.h); got != v.d.Digest {
				return n, fmt.Errorf("blob %s: digest mismatch (the content's is %s): %w", v.d.Digest, got, errdefs.ErrCorrupt)
			}
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// validDigest checks that a digest from a manifest is well formed and of
// an algorithm sdme can compute: it names a blob's file, and verifies it.
func validDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w: %w", d, err, errdefs.ErrCorrupt)
	}
	return nil
}
