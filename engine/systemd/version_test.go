package systemd

import (
	"errors"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]int{
		"257.9-1~deb13u1":  257,
		"252":              252,
		"256.7-arch1-1":    256,
		"249.11-0ubuntu3":  249,
		"v256-rc1":         256,
		"258~rc3-1":        258,
		"255.4-1ubuntu8.6": 255,
	} {
		if n, ok := parseVersion(s); !ok || n != want {
			t.Errorf("parseVersion(%q) = %d, %v; want %d", s, n, ok, want)
		}
	}
	for _, s := range []string{"", "devel", "v"} {
		if n, ok := parseVersion(s); ok {
			t.Errorf("parseVersion(%q) = %d; want no version", s, n)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	err := checkVersion("249.11-0ubuntu3")
	if err == nil || !strings.Contains(err.Error(), "systemd 249 is too old: sdme needs 252 or newer") || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("checkVersion(249) = %v", err)
	}
	for _, v := range []string{"252", "257.9-1~deb13u1", "256.7-arch1-1", "devel"} {
		if err := checkVersion(v); err != nil {
			t.Errorf("checkVersion(%q) = %v", v, err)
		}
	}
}
