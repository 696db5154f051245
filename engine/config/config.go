// Package config loads and changes sdme's settings.
//
// Settings live in a TOML file, ~/.config/sdme/sdmerc. sdme runs as root,
// usually through sudo, so the file of $SUDO_USER is used when it exists;
// otherwise root's own. A missing file or key means the default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/names"
)

// Config holds every setting. The JSON names are those of the varlink
// interface; the TOML names are the keys users write and `config set` takes.
type Config struct {
	Interactive          bool   `toml:"interactive" json:"interactive"`
	Datadir              string `toml:"datadir" json:"datadir"`
	BootTimeout          int    `toml:"boot_timeout" json:"bootTimeout"`
	JoinAsSudoUser       bool   `toml:"join_as_sudo_user" json:"joinAsSudoUser"`
	HostRootfsOpaqueDirs string `toml:"host_rootfs_opaque_dirs" json:"hostRootfsOpaqueDirs"`
	DefaultBaseFS        string `toml:"default_base_fs" json:"defaultBaseFs"`
	InsecureRegistries   string `toml:"insecure_registries" json:"insecureRegistries"`
}

// MaxSeconds is the longest timeout sdme takes, in seconds: the most a
// time.Duration holds (about 292 years). Longer ones would wrap around to
// negative durations.
const MaxSeconds = math.MaxInt64 / int64(time.Second)

// Default returns the built-in settings.
func Default() Config {
	return Config{
		Interactive:          true,
		Datadir:              "/var/lib/sdme",
		BootTimeout:          60,
		JoinAsSudoUser:       true,
		HostRootfsOpaqueDirs: "/etc/systemd/system,/var/log",
	}
}

// A key describes one setting: how to show it and how to parse a new value.
type key struct {
	name string
	doc  string
	get  func(*Config) any
	set  func(*Config, string) error
}

var keys = []key{
	{"interactive", "ask before acting when a terminal is attached",
		func(c *Config) any { return c.Interactive },
		func(c *Config, v string) (err error) { c.Interactive, err = parseBool(v); return }},
	{"datadir", "where containers and root filesystems are stored",
		func(c *Config) any { return c.Datadir },
		func(c *Config, v string) error {
			if !filepath.IsAbs(v) {
				return fmt.Errorf("%q is not an absolute path", v)
			}
			// The path goes into unit files, where a newline would start a
			// setting of its own and a space separate two paths, and into
			// overlayfs options, where ',' and ':' separate options and
			// layers, and '\\' and '"' escape and quote them.
			if hasControl(v) || strings.ContainsAny(v, " ,:\\\"") {
				return fmt.Errorf("%q has a control character or one of space , : \\ \", which unit files and overlayfs options cannot carry", v)
			}
			c.Datadir = filepath.Clean(v)
			return nil
		}},
	{"boot_timeout", "seconds to wait for a container to boot",
		func(c *Config) any { return c.BootTimeout },
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || int64(n) > MaxSeconds {
				return fmt.Errorf("%q is not a whole number of seconds from 1 to %d", v, MaxSeconds)
			}
			c.BootTimeout = n
			return nil
		}},
	{"join_as_sudo_user", "join host clones as $SUDO_USER",
		func(c *Config) any { return c.JoinAsSudoUser },
		func(c *Config, v string) (err error) { c.JoinAsSudoUser, err = parseBool(v); return }},
	{"host_rootfs_opaque_dirs", "directories of / hidden in host clones (comma-separated)",
		func(c *Config) any { return c.HostRootfsOpaqueDirs },
		func(c *Config, v string) error {
			dirs, err := ParseOpaqueDirs(v)
			if err != nil {
				return err
			}
			c.HostRootfsOpaqueDirs = strings.Join(dirs, ",")
			return nil
		}},
	{"default_base_fs", "base rootfs for OCI application imports",
		func(c *Config) any { return c.DefaultBaseFS },
		func(c *Config, v string) error {
			if v != "" {
				if err := names.Validate(v); err != nil {
					return err
				}
			}
			c.DefaultBaseFS = v
			return nil
		}},
	{"insecure_registries", "registries (host[:port], comma-separated) reached over plain HTTP or unverified TLS",
		func(c *Config) any { return c.InsecureRegistries },
		func(c *Config, v string) error {
			var hosts []string
			for _, h := range strings.Split(v, ",") {
				if h = strings.TrimSpace(h); h == "" {
					continue
				}
				if strings.ContainsAny(h, "/ ") {
					return fmt.Errorf("%q is not a registry host[:port]", h)
				}
				hosts = append(hosts, h)
			}
			c.InsecureRegistries = strings.Join(hosts, ",")
			return nil
		}},
}

// Insecure returns the registries of insecure_registries.
func (c *Config) Insecure() []string {
	if c.InsecureRegistries == "" {
		return nil
	}
	return strings.Split(c.InsecureRegistries, ",")
}

func lookup(name string) (key, error) {
	for _, k := range keys {
		if k.name == name {
			return k, nil
		}
	}
	known := make([]string, len(keys))
	for i, k := range keys {
		known[i] = k.name
	}
	return key{}, fmt.Errorf("unknown config key %q (known: %s): %w", name, strings.Join(known, ", "), errdefs.ErrInvalidArgument)
}

// Keys returns the names of all settings, in the order they are shown.
func Keys() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// Get returns the value of one setting.
func (c *Config) Get(name string) (any, error) {
	k, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return k.get(c), nil
}

// Set parses value for the named setting and stores it in c.
func (c *Config) Set(name, value string) error {
	k, err := lookup(name)
	if err != nil {
		return err
	}
	if err := k.set(c, value); err != nil {
		return fmt.Errorf("config key %s: %w: %w", name, err, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Doc returns the one-line description of a setting.
func Doc(name string) string {
	k, _ := lookup(name)
	return k.doc
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", v)
}

// ParseOpaqueDirs parses a comma-separated list of absolute directories, as
// taken by host_rootfs_opaque_dirs. The empty string is the empty list.
func ParseOpaqueDirs(s string) ([]string, error) {
	return CheckOpaqueDirs(strings.Split(s, ","))
}

// CheckOpaqueDirs validates directories to hide from a container, from the
// command line, the config or a varlink call, and returns them cleaned,
// without blanks and duplicates. Each is a path inside the container's
// upper layer, so it must stay there: absolute, no "..", not "/" itself;
// and it is stored in a comma-separated list, so it has no comma.
func CheckOpaqueDirs(dirs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if err := checkOpaqueDir(d); err != nil {
			return nil, fmt.Errorf("opaque directory %q %w: %w", d, err, errdefs.ErrInvalidArgument)
		}
		d = filepath.Clean(d)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

func checkOpaqueDir(d string) error {
	switch {
	case !filepath.IsAbs(d):
		return errors.New("is not an absolute path")
	case hasControl(d) || strings.Contains(d, ","):
		return errors.New("has a control character or a comma")
	case filepath.Clean(d) == "/":
		return errors.New("would hide the whole root")
	}
	for _, part := range strings.Split(d, "/") {
		if part == ".." {
			return errors.New("contains '..'")
		}
	}
	return nil
}

// hasControl reports whether s has an ASCII control character (newline,
// escape, NUL, DEL, ...).
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Path returns the config file sdme uses: $SUDO_USER's when running under
// sudo and that user has one, otherwise the one in $HOME.
func Path() string {
	if su := os.Getenv("SUDO_USER"); su != "" && su != "root" {
		if u, err := user.Lookup(su); err == nil {
			p := filepath.Join(u.HomeDir, ".config", "sdme", "sdmerc")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".config", "sdme", "sdmerc")
}

// Load reads the config file at path over the defaults. A missing file is
// not an error; a malformed one is, and names the file and the problem.
func Load(path string) (Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return c, fmt.Errorf("config file %s: %w: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("config file %s: unknown key %q: %w", path, und[0].String(), errdefs.ErrInvalidArgument)
	}
	// Values in the file go through the same checks as `config set`.
	for _, k := range keys {
		if err := c.Set(k.name, fmt.Sprint(k.get(&c))); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return c, nil
}

// SetInFile changes one key in the config file at path, keeping the others,
// and returns the new settings. The file is replaced atomically and keeps
// its owner, so a user's own file stays theirs when root changes it.
func SetInFile(path, name, value string) (Config, error) {
	c, err := Load(path)
	if err != nil {
		return c, err
	}
	if err := c.Set(name, value); err != nil {
		return c, err
	}
	raw := map[string]any{}
	if data, err := os.ReadFile(path); err == nil {
		if _, err := toml.Decode(string(data), &raw); err != nil {
			return c, err
		}
	}
	k, _ := lookup(name)
	raw[name] = k.get(&c)
	if def := Default(); fmt.Sprint(k.get(&def)) == fmt.Sprint(raw[name]) {
		delete(raw, name) // the default needs no line
	}
	var b bytes.Buffer
	b.WriteString("# sdme settings; see `sdme config get`\n")
	ks := make([]string, 0, len(raw))
	for k := range raw {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	enc := toml.NewEncoder(&b)
	for _, k := range ks {
		if err := enc.Encode(map[string]any{k: raw[k]}); err != nil {
			return c, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return c, err
	}
	uid, gid := -1, -1
	if fi, err := os.Stat(path); err == nil {
		uid, gid = ownerOf(fi)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return c, err
	}
	if uid >= 0 {
		os.Lchown(path, uid, gid)
	}
	return c, nil
}
