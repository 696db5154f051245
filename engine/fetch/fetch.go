// Package fetch downloads over HTTP(S) the way command-line users expect:
// through the proxy their environment names, with errors that say which
// URL failed and why.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/sdme/sdme/engine/errdefs"
)

// UserAgent is sent with every request sdme makes.
var UserAgent = "sdme"

// ProxyConfig reads the proxy variables from getenv as curl does: the
// lower-case name wins over the upper-case one, and all_proxy/ALL_PROXY
// serve a scheme that has no variable of its own. Requests to localhost
// and loopback addresses never go through a proxy (x/net/http/httpproxy).
func ProxyConfig(getenv func(string) string) *httpproxy.Config {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	return &httpproxy.Config{
		HTTPProxy:  first("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"),
		HTTPSProxy: first("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
		NoProxy:    first("no_proxy", "NO_PROXY"),
		// A CGI environment could set HTTP_PROXY from a request header;
		// sdme is no CGI program, but x/net only trusts it when told.
		CGI: false,
	}
}

// Transport is an http.Transport that uses the environment's proxies.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	pf := ProxyConfig(os.Getenv).ProxyFunc()
	t.Proxy = func(r *http.Request) (*url.URL, error) { return pf(r.URL) }
	return t
}

// Client is an http.Client over Transport. There is no overall timeout, as
// a rootfs download may take long; a connection that stalls is cut by the
// transport's own timeouts and by the caller's context.
func Client() *http.Client {
	t := Transport()
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}

// Response is an open download.
type Response struct {
	Body io.ReadCloser
	// Size is the length the server announced, or -1.
	Size int64
}

// Get starts downloading rawURL. A status other than 200 is an error
// that names the URL and the status: 404 wraps errdefs.ErrNotFound,
// others errdefs.ErrTransfer.
func Get(ctx context.Context, c *http.Client, rawURL string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w: %w", rawURL, err, errdefs.ErrInvalidArgument)
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("download %s: %w: %w", rawURL, err, errdefs.ErrTransfer)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		class := errdefs.ErrTransfer
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			class = errdefs.ErrNotFound
		}
		return nil, fmt.Errorf("download %s: the server answered %s: %w", rawURL, resp.Status, class)
	}
	return &Response{Body: resp.Body, Size: resp.ContentLength}, nil
}
