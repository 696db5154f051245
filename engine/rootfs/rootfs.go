// Package rootfs is the store of imported root filesystems: the read-only
// lower layers containers are made of.
//
// A rootfs is a directory DATADIR/fs/NAME and a sidecar DATADIR/fs/.NAME.meta
// (KEY=VALUE, the original sdme's format, with more keys). A rootfs only
// ever appears whole: an import fills a staging directory of its own and
// renames it into place when it is complete (see Txn), and removal renames
// the tree out of the way before deleting it. Whatever a killed process
// leaves behind is a dot-directory that the next command removes (GC).
//
// Locks: an import or a removal holds the rootfs's exclusive lock; creating
// a container on a rootfs holds its shared lock, so a rootfs cannot vanish
// under a container being made of it.
package rootfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sdme/sdme/engine/datadir"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/ociapp"
	"github.com/sdme/sdme/engine/printable"
	"github.com/sdme/sdme/engine/state"
)

// Info describes a rootfs. The JSON form is the reply of the varlink
// interface and of `sdme fs ls --json`.
type Info struct {
	Name string `json:"name"`
	// Distro is PRETTY_NAME of the tree's os-release; empty if it has none.
	Distro string `json:"distro"`
	// Source is what it was imported from, as the user wrote it.
	Source string `json:"source"`
	// Kind is the kind of source: directory, tarball, registry, build,
	// oci-layout, docker-archive, qcow2 or raw.
	Kind string `json:"kind"`
	// Digest is the manifest digest of an OCI image; empty otherwise.
	Digest string `json:"digest,omitempty"`
	// Base is the rootfs an OCI application is built on; empty for a
	// rootfs that stands alone.
	Base string `json:"base,omitempty"`
	// App is the application's configuration, for a rootfs with a base.
	App *ociapp.App `json:"app,omitempty"`
	// BuildKey is the cache key of the last step of the build that made
	// it (fs build): an unchanged build file makes nothing new.
	BuildKey string `json:"-"`
	// Size is the disk space the tree takes, in bytes: an application's
	// own, without its base.
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	// Containers are the containers built on it.
	Containers []string `json:"containers"`
}

// Store is the rootfs store of one data directory.
type Store struct {
	layout layout.Layout
}

// New returns the store below datadir.
func New(datadir string) Store { return Store{layout: layout.Layout{Datadir: datadir}} }

// Path is where the tree of rootfs name lives.
func (s Store) Path(name string) string { return s.layout.Rootfs(name) }

// briefWait is how long a taker waits for a lock whose holders are quick:
// a container being created on the rootfs, a removal, a collection of
// leftovers. An import holds it for minutes; past this, the answer is
// "busy".
const briefWait = 3 * time.Second

func (s Store) lock(name string, shared bool, wait time.Duration) (*lock.Lock, error) {
	path, what := s.layout.LockFile("fs", name), fmt.Sprintf("rootfs %q", name)
	if shared {
		return lock.Shared(path, what, wait)
	}
	return lock.Exclusive(path, what, wait)
}

// ready makes sure the data directory is root's alone (package datadir)
// before anything in it is read or written.
func (s Store) ready() error { return datadir.Prepare(s.layout) }

// Use checks that rootfs name exists and holds it (shared) until the
// returned lock is released, so that it cannot be removed meanwhile.
func (s Store) Use(name string) (*lock.Lock, error) {
	if err := names.Validate(name); err != nil {
		return nil, err
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	l, err := s.lock(name, true, briefWait)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.Path(name)); err != nil {
		l.Unlock()
		return nil, notFound(name)
	}
	return l, nil
}

func notFound(name string) error {
	return &errdefs.Error{Kind: errdefs.Rootfs, Name: name, Err: errdefs.ErrNotFound, Hint: errdefs.HintList}
}

// List returns every rootfs, sorted by name. It only reads: no lock is
// taken, and what dead imports left behind is skipped, not collected.
func (s Store) List() ([]Info, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.layout.FsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	users, err := s.users()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		info := s.info(e.Name())
		info.Containers = append([]string{}, users[e.Name()]...)
		out = append(out, info)
	}
	return out, nil
}

// Get describes rootfs name.
func (s Store) Get(name string) (Info, error) {
	if err := names.Validate(name); err != nil {
		return Info{}, err
	}
	if err := s.ready(); err != nil {
		return Info{}, err
	}
	if fi, err := os.Stat(s.Path(name)); err != nil || !fi.IsDir() {
		return Info{}, notFound(name)
	}
	users, err := s.users()
	if err != nil {
		return Info{}, err
	}
	info := s.info(name)
	info.Containers = append([]string{}, users[name]...)
	return info, nil
}

// info reads the sidecar of name; a missing or damaged one gives what can
// be known without it, since the tree is what matters.
func (s Store) info(name string) Info {
	info := Info{Name: name}
	data, err := os.ReadFile(s.layout.RootfsMeta(name))
	if err != nil {
		return info
	}
	kv := parseMeta(data)
	info.Distro, info.Source, info.Kind, info.Digest = kv["DISTRO"], kv["SOURCE"], kv["KIND"], kv["DIGEST"]
	info.BuildKey = kv["BUILD"]
	if base := kv["BASE"]; names.Validate(base) == nil {
		info.Base = base
		if a, err := ociapp.Read(s.Path(name)); err == nil {
			info.App = &a
		}
	}
	info.Size, _ = strconv.ParseInt(kv["SIZE"], 10, 64)
	if secs, err := strconv.ParseInt(kv["CREATED"], 10, 64); err == nil {
		info.Created = time.Unix(secs, 0)
	}
	return info
}

func parseMeta(data []byte) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = printable.Line(v) // as recorded by versions that did not clean it
		}
	}
	return kv
}

func marshalMeta(info Info) []byte {
	kv := map[string]string{
		"DISTRO":  info.Distro,
		"SOURCE":  info.Source,
		"KIND":    info.Kind,
		"DIGEST":  info.Digest,
		"BASE":    info.Base,
		"BUILD":   info.BuildKey,
		"SIZE":    strconv.FormatInt(info.Size, 10),
		"CREATED": strconv.FormatInt(info.Created.Unix(), 10),
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		// A value is one line of printable text: os-release or a URL can
		// neither smuggle a key nor drive the terminal of whoever lists it.
		v := printable.Line(kv[k])
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.Bytes()
}

// Base returns the base of rootfs name, "" if it stands alone. It reads
// the sidecar, so that a container's start needs no lock.
func (s Store) Base(name string) string { return s.info(name).Base }

// users maps each rootfs to the containers built on it.
func (s Store) users() (map[string][]string, error) {
	cs, err := state.Names(s.layout.StateDir())
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, c := range cs {
		st, err := state.Read(s.layout.StateFile(c))
		if err == nil && st.Spec.Rootfs != "" {
			m[st.Spec.Rootfs] = append(m[st.Spec.Rootfs], c)
		}
	}
	return m, nil
}

func errInUse(name string, by []string) error {
	return &errdefs.Error{Kind: errdefs.Rootfs, Name: name, Err: fmt.Errorf("used by %s %s; remove %s first: %w",
		plural(len(by), "container", "containers"), strings.Join(by, ", "),
		plural(len(by), "it", "them"), errdefs.ErrFailedPrecondition)}
}

// Apps lists the application rootfs built on base.
func (s Store) Apps(base string) []string {
	ents, err := os.ReadDir(s.layout.FsDir())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") && e.IsDir() && s.info(e.Name()).Base == base {
			out = append(out, e.Name())
		}
	}
	return out
}

func errBaseOf(name string, apps []string) error {
	return &errdefs.Error{Kind: errdefs.Rootfs, Name: name, Err: fmt.Errorf("it is the base of application rootfs %s; remove %s first: %w",
		strings.Join(apps, ", "), plural(len(apps), "it", "them"), errdefs.ErrFailedPrecondition)}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Remove deletes rootfs name. It refuses while a container uses it.
func (s Store) Remove(name string) error {
	if err := names.Validate(name); err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		return err
	}
	s.GC() // best effort: leftovers must not keep a removal from working
	l, err := s.lock(name, false, briefWait)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if _, err := os.Lstat(s.Path(name)); err != nil {
		return notFound(name)
	}
	users, err := s.users()
	if err != nil {
		return err
	}
	if by := users[name]; len(by) > 0 {
		return errInUse(name, by)
	}
	if apps := s.Apps(name); len(apps) > 0 {
		return errBaseOf(name, apps)
	}
	return s.discard(name)
}

// discard moves the tree of name out of the way, drops its sidecar and
// deletes the tree. Once the rename is done the rootfs is gone for every
// reader; a crash during the slow delete leaves a dot-directory for GC.
func (s Store) discard(name string) error {
	trash := s.layout.Staging(name, "remove", os.Getpid())
	if err := os.Rename(s.Path(name), trash); err != nil {
		return err
	}
	if err := os.Remove(s.layout.RootfsMeta(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(trash)
}
