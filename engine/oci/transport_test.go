package oci

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
)

// endless writes s, then 'A' for as long as the client reads, counting
// what it sent in sent.
func endless(w http.ResponseWriter, s string, sent *atomic.Int64) {
	w.Write([]byte(s))
	chunk := []byte(strings.Repeat("A", 64<<10))
	for {
		n, err := w.Write(chunk)
		sent.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// A registry that sends its clients to a token endpoint that never ends:
// regclient would decode it whole.
func TestEndlessTokenIsRefused(t *testing.T) {
	var srv *httptest.Server
	var sent atomic.Int64
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			w.Header().Set("Content-Type", "application/json")
			endless(w, `{"token":"`, &sent)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="x",scope="repository:x/y:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Registry(ctx, strings.TrimPrefix(srv.URL, "http://")+"/x/y:latest", RegistryOptions{})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("import behind an endless token: %v (context: %v)", err, ctx.Err())
	}
	// Each try reads at most maxAnswer (and the socket buffers hold a
	// little more); regclient tries a few times.
	if n := sent.Load(); n > 10*maxAnswer {
		t.Errorf("the token endpoint sent %d MiB before the client gave up", n>>20)
	}
}

// Blobs, even when a registry redirects them to a storage host, are not
// capped: their verifier bounds them.
func TestBoundedTransportSparesBlobs(t *testing.T) {
	big := maxAnswer + 1<<20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/x/blobs/sha256:abc":
			http.Redirect(w, r, "/storage/abc", http.StatusTemporaryRedirect)
		case "/storage/abc", "/token":
			w.Write(make([]byte, big))
		}
	}))
	defer srv.Close()
	c := &http.Client{Transport: boundedTransport{http.DefaultTransport}}
	read := func(path string) (int64, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return io.Copy(io.Discard, resp.Body)
	}
	if n, err := read("/v2/x/blobs/sha256:abc"); err != nil || n != int64(big) {
		t.Errorf("redirected blob: %d bytes, %v; want %d", n, err, big)
	}
	if _, err := read("/token"); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("a large answer that is not a blob: %v, want ErrUnsupported", err)
	}
}
