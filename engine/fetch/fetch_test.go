package fetch

import (
	"context"
	"errors"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestProxyConfig(t *testing.T) {
	cases := []struct {
		env       map[string]string
		target    string
		wantProxy string
	}{
		{map[string]string{"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "https://example.com/x", "http://lower:1"},
		{map[string]string{"HTTPS_PROXY": "http://upper:1"}, "https://example.com/x", "http://upper:1"},
		{map[string]string{"http_proxy": "http://p:3128"}, "https://example.com/x", ""},
		{map[string]string{"http_proxy": "http://p:3128"}, "http://example.com/x", "http://p:3128"},
		{map[string]string{"all_proxy": "http://all:1"}, "https://example.com/x", "http://all:1"},
		{map[string]string{"ALL_PROXY": "http://all:2", "http_proxy": "http://p:1"}, "http://example.com/x", "http://p:1"},
		{map[string]string{"https_proxy": "http://p:1", "no_proxy": "example.com"}, "https://example.com/x", ""},
		{map[string]string{"https_proxy": "http://p:1", "NO_PROXY": ".example.com"}, "https://a.example.com/x", ""},
		{map[string]string{"https_proxy": "http://p:1", "no_proxy": "other.org"}, "https://example.com/x", "http://p:1"},
		{map[string]string{"https_proxy": "http://p:1", "no_proxy": "*"}, "https://example.com/x", ""},
		{map[string]string{"http_proxy": "http://p:1"}, "http://127.0.0.1:5000/v2/", ""},
	}
	for _, c := range cases {
		cfg := ProxyConfig(func(k string) string { return c.env[k] })
		u, _ := url.Parse(c.target)
		got, err := cfg.ProxyFunc()(u)
		if err != nil {
			t.Fatalf("%v %s: %v", c.env, c.target, err)
		}
		gs := ""
		if got != nil {
			gs = got.String()
		}
		if gs != c.wantProxy {
			t.Errorf("env %v, %s: proxy %q, want %q", c.env, c.target, gs, c.wantProxy)
		}
	}
}

// A failed download is a transfer error, and what failed stays reachable:
// the CLI and the varlink service see the cause, not only its text.
func TestGetKeepsTheCause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the connection is refused
	_, err = Get(context.Background(), Client(), "http://"+addr+"/x")
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, errdefs.ErrTransfer) {
		t.Errorf("Get from a closed port = %v, want ECONNREFUSED and ErrTransfer", err)
	}
	_, err = Get(context.Background(), Client(), "http://[::1")
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Get of a bad URL = %v, want a *url.Error and ErrInvalidArgument", err)
	}
}
