package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bind makes a host directory or file visible inside the container. It is
// bound by nspawn after the overlay is mounted, so on a host clone the
// container sees the host's own path, not its copy in the overlay.
type Bind struct {
	Host      string `json:"host"`
	Container string `json:"container"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// Binds are a container's bind mounts, in the order given.
type Binds []Bind

// ParseBind reads the CLI form HOST:CONTAINER[:ro|:rw].
func ParseBind(s string) (Bind, error) {
	parts := strings.Split(s, ":")
	b := Bind{}
	switch {
	case len(parts) == 2:
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		b.ReadOnly = parts[2] == "ro"
	default:
		return b, Invalid("bind", s, "want HOST:CONTAINER or HOST:CONTAINER:ro (paths with ':' are not supported)")
	}
	b.Host, b.Container = parts[0], parts[1]
	return b, b.check()
}

func (b Bind) String() string {
	mode := "rw"
	if b.ReadOnly {
		mode = "ro"
	}
	return b.Host + ":" + b.Container + ":" + mode
}

// maxBinds bounds the binds of one container, as maxEnv its variables:
// far more than anyone binds, far less than a unit line can hold.
const maxBinds = 128

func (bs *Binds) check() error {
	if len(*bs) > maxBinds {
		return Invalid("bind", fmt.Sprint(len(*bs), " binds"), fmt.Sprint("at most ", maxBinds))
	}
	seen := map[string]bool{}
	for i, b := range *bs {
		if err := b.check(); err != nil {
			return err
		}
		b.Host, b.Container = filepath.Clean(b.Host), filepath.Clean(b.Container)
		if seen[b.Container] {
			return Invalid("bind", b.String(), "a second bind onto "+b.Container)
		}
		seen[b.Container] = true
		(*bs)[i] = b
	}
	return nil
}

// check refuses what nspawn's --bind cannot say or what would be a
// surprise: relative paths, '..', the separators of the bind syntax and
// of the state file, a backslash (nspawn reads "\x" as "x"), and a host
// path that is not there.
func (b Bind) check() error {
	for _, p := range []struct{ what, path string }{{"host path", b.Host}, {"container path", b.Container}} {
		switch {
		case !filepath.IsAbs(p.path):
			return Invalid("bind", b.String(), p.what+" is not absolute")
		case len(p.path) > 4096 || !utf8.ValidString(p.path):
			return Invalid("bind", b.String(), p.what+" is longer than 4096 bytes or not UTF-8")
		case hasControl(p.path) || strings.ContainsAny(p.path, ":|\\"):
			return Invalid("bind", b.String(), p.what+" has a control character, ':', '|' or '\\'")
		case slices.Contains(strings.Split(p.path, "/"), ".."):
			return Invalid("bind", b.String(), p.what+" has a '..' component")
		}
	}
	if filepath.Clean(b.Container) == "/" {
		return Invalid("bind", b.String(), "cannot bind over the container's /")
	}
	if _, err := os.Stat(b.Host); err != nil {
		why := "host path cannot be read: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			why = "host path does not exist"
		}
		return Invalid("bind", b.String(), why)
	}
	return nil
}

// In a user namespace a host directory is bound as it is, not idmapped:
// idmapped, the container's root would be the host's root on it, and
// could leave a setuid-root file there for a host user to run.
func (bs *Binds) plan(_ Input, p *Plan) error {
	for _, b := range *bs {
		opt := "--bind="
		if b.ReadOnly {
			opt = "--bind-ro="
		}
		p.Nspawn = append(p.Nspawn, fmt.Sprintf("%s%s:%s", opt, filepath.Clean(b.Host), filepath.Clean(b.Container)))
	}
	return nil
}

// The state key is the original sdme's: host:container:rw|ro, joined
// with '|'.
func (bs *Binds) encode(kv map[string]string) {
	if len(*bs) == 0 {
		return
	}
	s := make([]string, len(*bs))
	for i, b := range *bs {
		s[i] = b.String()
	}
	kv["BINDS"] = strings.Join(s, "|")
}

func (bs *Binds) decode(take func(string) string) error {
	for _, s := range splitList(take("BINDS"), "|") {
		parts := strings.Split(s, ":")
		if len(parts) != 3 || (parts[2] != "ro" && parts[2] != "rw") {
			return errors.New("BINDS has an entry that is not host:container:rw|ro")
		}
		*bs = append(*bs, Bind{Host: parts[0], Container: parts[1], ReadOnly: parts[2] == "ro"})
	}
	return nil
}
