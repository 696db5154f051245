package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestLoadMissingIsDefault(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err != nil || c != Default() {
		t.Fatalf("Load(missing) = %+v, %v; want defaults", c, err)
	}
}

func TestSetValidates(t *testing.T) {
	bad := map[string]string{
		"boot_timeout":            "soon",
		"interactive":             "maybe",
		"datadir":                 "relative/dir",
		"host_rootfs_opaque_dirs": "/etc,var",
		"default_base_fs":         "Ubuntu",
		"no_such_key":             "1",
	}
	for k, v := range bad {
		c := Default()
		if err := c.Set(k, v); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Set(%s, %q) = %v, want ErrInvalidArgument", k, v, err)
		}
	}
	for _, kv := range [][2]string{
		{"datadir", "/var/lib/sdme\nExecStartPre=/bin/evil"},
		{"datadir", "/var/lib/sd,me"},
		{"datadir", "/var/lib/sd:me"},
		{"datadir", `/var/lib/sd\me`},
		{"datadir", "/var/lib/\x1b[2J"},
		{"datadir", "/var/lib/my sdme"},
		{"datadir", `/var/lib/sd"me`},
		{"boot_timeout", "9223372037"}, // one past what a time.Duration holds
		{"boot_timeout", "99999999999999999999"},
	} {
		c := Default()
		if err := c.Set(kv[0], kv[1]); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Set(%s, %q) = %v, want ErrInvalidArgument", kv[0], kv[1], err)
		}
	}
	c := Default()
	if err := c.Set("boot_timeout", "9223372036"); err != nil {
		t.Errorf("the longest boot_timeout refused: %v", err)
	}
	c.Set("boot_timeout", "0")
	if c.BootTimeout != 9223372036 {
		t.Errorf("boot_timeout 0 accepted")
	}
}

func TestSetInFileRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".config", "sdme", "sdmerc")
	if _, err := SetInFile(p, "boot_timeout", "120"); err != nil {
		t.Fatal(err)
	}
	if _, err := SetInFile(p, "join_as_sudo_user", "no"); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.BootTimeout != 120 || c.JoinAsSudoUser {
		t.Errorf("Load after SetInFile = %+v", c)
	}
	// Setting a key back to its default removes its line.
	if _, err := SetInFile(p, "boot_timeout", "60"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if strings.Contains(string(data), "boot_timeout") {
		t.Errorf("default value kept in file:\n%s", data)
	}
	if !strings.Contains(string(data), "join_as_sudo_user = false") {
		t.Errorf("other key lost:\n%s", data)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	for _, body := range []string{
		"boot_timeout = \"sixty\"\n",
		"bogus = 1\n",
		"datadir = \"rel\"\n",
		"[[[",
	} {
		p := filepath.Join(t.TempDir(), "sdmerc")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%q) = %v, want an error naming the file", body, err)
		}
	}
}

// A malformed file is an invalid argument, and its cause stays reachable.
func TestLoadKeepsTheCause(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sdmerc")
	os.WriteFile(p, []byte("[[["), 0o644)
	_, err := Load(p)
	var pe toml.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Load = %v, want a toml.ParseError and ErrInvalidArgument", err)
	}
	var c Config
	err = c.Set("default_base_fs", "Bad")
	if !errors.Is(err, errdefs.ErrInvalidName) {
		t.Errorf("Set(default_base_fs, Bad) = %v, want ErrInvalidName", err)
	}
}

func TestParseOpaqueDirs(t *testing.T) {
	got, err := ParseOpaqueDirs(" /var/log/ ,/etc/systemd/system,/var/log,")
	want := []string{"/var/log", "/etc/systemd/system"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseOpaqueDirs = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseOpaqueDirs(""); err != nil || got != nil {
		t.Errorf("ParseOpaqueDirs(\"\") = %v, %v", got, err)
	}
	for _, s := range []string{"/a/../b", "rel", "/", "/../..", "/a\nb", "/a\x1b[2Jb"} {
		if _, err := ParseOpaqueDirs(s); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseOpaqueDirs(%q) = %v, want ErrInvalidArgument", s, err)
		}
	}
}

func TestCheckOpaqueDirs(t *testing.T) {
	// A varlink client sends a list, and a comma would split an entry
	// when the list is stored.
	for _, d := range []string{"/a,b", "/../..", "/etc/../.."} {
		if _, err := CheckOpaqueDirs([]string{d}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("CheckOpaqueDirs(%q) = %v, want ErrInvalidArgument", d, err)
		}
	}
	got, err := CheckOpaqueDirs([]string{"/var/log/", " ", "/var/log"})
	if err != nil || !reflect.DeepEqual(got, []string{"/var/log"}) {
		t.Errorf("CheckOpaqueDirs = %v, %v", got, err)
	}
}

func TestPathPrefersSudoUsersFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "")
	if got, want := Path(), filepath.Join(home, ".config/sdme/sdmerc"); got != want {
		t.Errorf("Path() = %s, want %s", got, want)
	}
}
