package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme/reg"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/fetch"
	"github.com/sdme/sdme/engine/progress"
)

// RegistryOptions says how to talk to a registry.
type RegistryOptions struct {
	// Platform is os/arch[/variant]; empty means this machine's.
	Platform string
	// Insecure lists registries (host or host:port) that may be reached
	// over plain HTTP or TLS without a trusted certificate. "*" allows any.
	// Registries on loopback addresses always may.
	Insecure []string
}

// ParseReference parses a registry image reference: docker.io/debian,
// quay.io/fedora/fedora:42, host:5000/repo:tag, repo@sha256:....
func ParseReference(s string) (ref.Ref, error) {
	r, err := ref.New(s)
	if err != nil || r.Scheme != "reg" {
		return r, fmt.Errorf("%q is not an image reference: %w", s, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// LooksLikeReference reports whether s is written as a registry reference
// rather than a path: it is not absolute or relative to ".", and its first
// component names a registry host (a dot, a port, or localhost). Callers
// try an existing path first.
func LooksLikeReference(s string) bool {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.Contains(s, "://") {
		return false
	}
	host, _, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return false
	}
	_, err := ParseReference(s)
	return err == nil
}

// Registry resolves an image in a registry for the platform in opts.
// Credentials come from the docker config file ($DOCKER_CONFIG or
// ~/.docker/config.json) and its credential helpers; anonymous bearer
// tokens are fetched as the registry asks.
func Registry(ctx context.Context, s string, opts RegistryOptions) (*Image, error) {
	r, err := ParseReference(s)
	if err != nil {
		return nil, err
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	rc, err := client(ctx, r, opts.Insecure)
	if err != nil {
		return nil, err
	}
	repo := &repository{rc: rc, r: r}
	name := r.CommonName()
	// By tag, the manifest has no descriptor: regclient refuses one whose
	// Content-Length, or body, is over maxMetadata.
	top, err := repo.rc.ManifestGet(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, registryError(err))
	}
	img := &Image{Ref: name, Digest: top.GetDescriptor().Digest.String()}
	m, err := resolvePlatform(ctx, repo, top, plat, name)
	if err != nil {
		return nil, err
	}
	return imageFrom(ctx, repo, m, plat, img)
}

// repository is the store of one repository of a registry.
type repository struct {
	rc *regclient.RegClient
	r  ref.Ref
}

func (repo *repository) manifest(ctx context.Context, d descriptor.Descriptor) (manifest.Manifest, error) {
	m, err := repo.rc.ManifestGet(ctx, repo.r, regclient.WithManifestDesc(d))
	if err != nil {
		return nil, registryError(err)
	}
	return m, nil
}

// blob fetches a blob; regclient verifies its digest at the end, the
// verifier bounds it to its declared size as it comes.
func (repo *repository) blob(ctx context.Context, d descriptor.Descriptor) (io.ReadCloser, error) {
	b, err := repo.rc.BlobGet(ctx, repo.r, d)
	if err != nil {
		return nil, registryError(err)
	}
	return newVerifier(&classifyingReader{ReadCloser: b}, d, false), nil
}

// client builds a regclient for the registry of r, allowing plain HTTP or
// unverified TLS only where the user said so or on loopback.
func client(ctx context.Context, r ref.Ref, insecure []string) (*regclient.RegClient, error) {
	mode := config.TLSEnabled
	if allowedInsecure(r.Registry, insecure) {
		mode = config.TLSDisabled
		if speaksTLS(ctx, r.Registry) {
			mode = config.TLSInsecure
		}
	}
	rt, err := registryTransport(r.Registry, mode == config.TLSInsecure)
	if err != nil {
		return nil, err
	}
	return regclient.New(
		regclient.WithDockerCreds(),
		regclient.WithUserAgent(fetch.UserAgent),
		regclient.WithRegOpts(reg.WithHTTPClient(&http.Client{Transport: rt}), reg.WithManifestMax(maxMetadata, maxMetadata)),
		// The scheme: regclient speaks plain HTTP to TLSDisabled hosts.
		regclient.WithConfigHost(config.Host{Name: r.Registry, TLS: mode}),
	), nil
}

// speaksTLS reports whether the registry at host answers HTTPS at all, so
// that an insecure registry gets HTTPS when it has it (with any
// certificate) and plain HTTP otherwise. Asking regclient to find out
// would cost its retries with backoff.
func speaksTLS(ctx context.Context, host string) bool {
	t := fetch.Transport()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	c := &http.Client{Transport: t, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

func allowedInsecure(registry string, insecure []string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, i := range insecure {
		if i == "*" || i == registry || i == host {
			return true
		}
	}
	return false
}

// classifyingReader gives the errors of a blob stream (a digest mismatch
// found at EOF) the engine's classes.
type classifyingReader struct{ io.ReadCloser }

func (c *classifyingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

// registryError says what a registry's refusal means for the user.
func registryError(err error) error {
	switch {
	case errors.Is(err, errs.ErrHTTPUnauthorized):
		return fmt.Errorf("the registry refused access (no or wrong credentials; log in with 'skopeo login' or 'docker login', which write ~/.docker/config.json): %w", errdefs.ErrTransfer)
	case errors.Is(err, errs.ErrNotFound):
		return fmt.Errorf("no such repository or tag: %w", errdefs.ErrNotFound)
	case errors.Is(err, errs.ErrHTTPRateLimit):
		return fmt.Errorf("the registry's rate limit is exceeded; log in to raise it: %w", errdefs.ErrTransfer)
	case errors.Is(err, errs.ErrSizeLimitExceeded): // a manifest over the limit client sets
		return fmt.Errorf("a manifest larger than the %s sdme accepts (%w): %w", progress.HumanBytes(maxMetadata), err, errdefs.ErrUnsupported)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return &errdefs.Error{Err: fmt.Errorf("%w: %w", err, errdefs.ErrTransfer), Hint: errdefs.HintInsecure}
	}
	return classify(err)
}
