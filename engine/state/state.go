// Package state reads and writes container state files.
//
// A state file is DATADIR/state/NAME, one KEY=VALUE per line, keys sorted,
// split at the first '='. It is the format of the original sdme, so existing
// data directories keep working. The container's spec owns most keys (see
// package spec). Keys this version does not know are kept as they are when
// the file is rewritten, and reported by Unknown: they may be settings of
// another version that this one would silently drop.
//
// The life of a state file is the life of the container:
//
//   - Claim creates it empty with O_EXCL: the name is taken, nothing else is
//     known yet. A process killed after Claim leaves an empty file, which
//     reads back as an incomplete container that rm can clean up.
//   - Write replaces it atomically (temp file, fsync, rename), so a reader
//     sees either the old or the new record, never a torn one.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/spec"
)

// Container is what sdme remembers about one container.
type Container struct {
	Name string
	// Created is when create finished; zero for an incomplete container.
	Created time.Time
	// Spec is what the container is made of and how it runs.
	Spec spec.Spec
	// Enabled says the container starts at boot.
	Enabled bool

	extra map[string]string // keys written by other versions
}

// Complete reports whether create finished writing the container.
func (c Container) Complete() bool { return c.Name != "" && !c.Created.IsZero() }

// Marshal encodes c as sorted KEY=VALUE lines.
func (c Container) Marshal() ([]byte, error) {
	kv := map[string]string{}
	for k, v := range c.extra {
		kv[k] = v
	}
	kv["NAME"] = c.Name
	kv["CREATED"] = strconv.FormatInt(c.Created.Unix(), 10)
	c.Spec.Encode(kv)
	kv["ENABLED"] = "no"
	if c.Enabled {
		kv["ENABLED"] = "yes"
	}
	keys := make([]string, 0, len(kv))
	for k, v := range kv {
		if strings.ContainsAny(v, "\n\x00") {
			return nil, fmt.Errorf("state key %s: value has a newline or NUL: %w", k, errdefs.ErrInvalidArgument)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, kv[k])
	}
	return b.Bytes(), nil
}

// Unmarshal decodes a state file. An empty input is a claimed name whose
// create never finished: it decodes to a Container that is not Complete.
func Unmarshal(data []byte) (Container, error) {
	var c Container
	kv := map[string]string{}
	// Split rather than scan: a line of any length is a damaged file, not
	// an unreadable one. Errors never quote the file: read through a
	// hostile name, it could be any file of the host.
	for i, l := range strings.Split(string(data), "\n") {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return c, fmt.Errorf("line %d has no '=': %w", i+1, errdefs.ErrCorrupt)
		}
		kv[k] = v
	}
	take := func(k string) string { v := kv[k]; delete(kv, k); return v }
	c.Name = take("NAME")
	if s := take("CREATED"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return c, fmt.Errorf("CREATED is not a number: %w", errdefs.ErrCorrupt)
		}
		c.Created = time.Unix(secs, 0)
	}
	c.Enabled = take("ENABLED") == "yes"
	sp, err := spec.Decode(take)
	if err != nil {
		return c, err
	}
	c.Spec = sp
	if len(kv) > 0 {
		c.extra = kv
	}
	return c, nil
}

// Unknown lists the keys of the file this version does not know and that
// have a value, sorted.
func (c Container) Unknown() []string {
	var keys []string
	for k, v := range c.extra {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Claim creates an empty state file at path, failing with errdefs.ErrExists
// if one is there already.
func Claim(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &errdefs.Error{Kind: errdefs.Container, Name: filepath.Base(path), Err: errdefs.ErrExists}
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Read loads the state file at path. A missing file is errdefs.ErrNotFound,
// a damaged one errdefs.ErrCorrupt.
func Read(path string) (Container, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Container{}, &errdefs.Error{Kind: errdefs.Container, Name: filepath.Base(path), Err: errdefs.ErrNotFound}
	}
	if err != nil {
		return Container{}, err
	}
	c, err := Unmarshal(data)
	if err != nil {
		return c, &errdefs.Error{Kind: errdefs.Container, Name: filepath.Base(path), Err: fmt.Errorf("state file %s: %w", path, err), Hint: errdefs.HintRemove}
	}
	return c, nil
}

// Write replaces the state file at path with c, atomically.
func Write(path string, c Container) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// Names lists the container names that have a state file in dir, sorted.
// Temporary files (dot files) are not containers.
func Names(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
