package oci

import "testing"

func TestLooksLikeReference(t *testing.T) {
	for s, want := range map[string]bool{
		"docker.io/debian":         true,
		"quay.io/fedora/fedora:42": true,
		"127.0.0.1:5000/sdme/base": true,
		"localhost/x":              true,
		"registry.example.com/a/b@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123": true,
		"debian":                false, // could be a file name
		"/abs/path":             false,
		"./rel/path":            false,
		"dir/file.tar":          false,
		"https://example.com/x": false,
	} {
		if got := LooksLikeReference(s); got != want {
			t.Errorf("LooksLikeReference(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAllowedInsecure(t *testing.T) {
	for _, c := range []struct {
		reg      string
		insecure []string
		want     bool
	}{
		{"127.0.0.1:5000", nil, true},
		{"localhost:5000", nil, true},
		{"[::1]:5000", nil, true},
		{"registry.lan:5000", nil, false},
		{"registry.lan:5000", []string{"registry.lan:5000"}, true},
		{"registry.lan:5000", []string{"registry.lan"}, true},
		{"registry.lan:5000", []string{"other.lan"}, false},
		{"docker.io", []string{"*"}, true},
	} {
		if got := allowedInsecure(c.reg, c.insecure); got != c.want {
			t.Errorf("allowedInsecure(%q, %v) = %v, want %v", c.reg, c.insecure, got, c.want)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7", ""} {
		if _, err := ParsePlatform(s); err != nil {
			t.Errorf("ParsePlatform(%q): %v", s, err)
		}
	}
	for _, s := range []string{"nonsense", "linux/", "/amd64"} {
		if _, err := ParsePlatform(s); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", s)
		}
	}
}
