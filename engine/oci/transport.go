package oci

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/fetch"
	"github.com/sdme/sdme/engine/progress"
)

// dockerCertDir holds registries' own CA certificates, DIR/HOST[:PORT]/*.crt,
// as docker and podman read them.
const dockerCertDir = "/etc/docker/certs.d"

// registryTransport is the HTTP transport of a client of registry:
// fetch's (the environment's proxies), with the TLS settings regclient
// would have made (unverified for an insecure registry; else the system's
// roots and the registry's own CA certificates in dockerCertDir), and a
// cap on the body of every answer but a blob's (see boundedTransport).
//
// regclient makes those TLS settings only on an *http.Transport, which
// would leave the answers unbounded; so they are made here.
func registryTransport(registry string, insecure bool) (http.RoundTripper, error) {
	t := fetch.Transport()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	} else {
		pool, err := rootPool(filepath.Join(dockerCertDir, registry))
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return boundedTransport{t}, nil
}

// rootPool is the system's certificate pool with the .crt files of dir.
func rootPool(dir string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return pool, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".crt") {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate: %w", filepath.Join(dir, e.Name()), errdefs.ErrInvalidArgument)
		}
	}
	return pool, nil
}

// boundedTransport caps the body of every registry answer but a blob's at
// maxAnswer. regclient bounds manifests itself, but decodes a token
// endpoint's reply without a bound, and that endpoint is any host the
// registry names in its WWW-Authenticate header: an endless token would
// take the service's memory. Blobs are bounded by their verifier.
type boundedTransport struct{ http.RoundTripper }

// maxAnswer is above maxMetadata, so that for a manifest regclient's own
// limit, which says what was refused, is reached first.
const maxAnswer = 2 * maxMetadata

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	if err != nil || isBlob(req) {
		return resp, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, url: req.URL.Redacted(), left: maxAnswer}
	return resp, nil
}

// isBlob reports whether req fetches a blob: GET /v2/NAME/blobs/DIGEST,
// or a redirect from there (registries send blobs from storage hosts
// whose paths say nothing).
func isBlob(req *http.Request) bool {
	for r := req; r != nil; r = r.Response.Request {
		if strings.Contains(r.URL.Path, "/blobs/") {
			return true
		}
		if r.Response == nil {
			break
		}
	}
	return false
}

type cappedBody struct {
	io.ReadCloser
	url  string
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("the answer of %s is larger than the %s sdme accepts: %w", c.url, progress.HumanBytes(maxAnswer), errdefs.ErrUnsupported)
	}
	n, err := c.ReadCloser.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	return n, err
}
