// Package pods keeps sdme's pods: named network namespaces with loopback
// up, which containers made with --pod share, so that they reach each
// other on 127.0.0.1.
//
// A pod is a record, DATADIR/pods/NAME/state (CREATED=epoch), and at run
// time a network namespace kept by a bind mount of its nsfs file at
// /run/sdme/pods/NAME/netns. No process holds it: the mount does, until
// the pod is removed or the host reboots. After a reboot /run is empty;
// the unit of every container in the pod runs `sdme pod ensure NAME`
// before nspawn (ExecStartPre=), which makes the namespace again if it is
// not there, so an enabled container of a pod boots without sdme having
// run. Ensure needs no configuration and no data directory: it is about
// /run alone.
package pods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/datadir"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/lock"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/state"
)

// Store is the pods of one data directory.
type Store struct {
	layout layout.Layout
}

// New returns the pods below datadir.
func New(datadir string) Store { return Store{layout: layout.Layout{Datadir: datadir}} }

// Info describes a pod as `sdme pod ls --json` and io.sdme's ListPods
// show it.
type Info struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Active: its network namespace exists now (false after a reboot,
	// until a container of the pod starts).
	Active bool `json:"active"`
	// Containers are the containers made with --pod=NAME.
	Containers []string `json:"containers"`
}

// runDir is layout.PodsRunDir, elsewhere in tests.
var runDir = layout.PodsRunDir

// netnsPath is layout.PodNetns below runDir.
func netnsPath(name string) string { return filepath.Join(runDir, name, "netns") }

// briefWait: every holder of a pod's lock is quick.
const briefWait = 3 * time.Second

func (s Store) lock(name string, shared bool) (*lock.Lock, error) {
	path, what := s.layout.LockFile("pods", name), fmt.Sprintf("pod %q", name)
	if shared {
		return lock.Shared(path, what, briefWait)
	}
	return lock.Exclusive(path, what, briefWait)
}

// ready checks name before it goes near a path (an empty one would be
// the directory of every pod), and the data directory (package datadir).
func (s Store) ready(name string) error {
	if err := names.Validate(name); err != nil {
		return err
	}
	return datadir.Prepare(s.layout)
}

func notFound(name string) error {
	return &errdefs.Error{Kind: errdefs.Pod, Name: name, Err: errdefs.ErrNotFound, Hint: errdefs.HintList}
}

func (s Store) exists(name string) bool {
	_, err := os.Stat(s.layout.PodState(name))
	return err == nil
}

// Create makes pod name and its network namespace.
func (s Store) Create(name string) (Info, error) {
	if err := s.ready(name); err != nil {
		return Info{}, err
	}
	l, err := s.lock(name, false)
	if err != nil {
		return Info{}, err
	}
	defer l.Unlock()
	if s.exists(name) {
		return Info{}, &errdefs.Error{Kind: errdefs.Pod, Name: name, Err: errdefs.ErrExists}
	}
	dir := s.layout.PodDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, err
	}
	if err := Ensure(name); err != nil {
		os.RemoveAll(dir)
		return Info{}, &errdefs.Error{Kind: errdefs.Pod, Name: name, Err: err}
	}
	now := time.Now()
	if err := atomicfile.Write(s.layout.PodState(name), []byte("CREATED="+strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); err != nil {
		removeNetns(name)
		os.RemoveAll(dir)
		return Info{}, err
	}
	return Info{Name: name, Created: time.Unix(now.Unix(), 0), Active: true, Containers: []string{}}, nil
}

// Use checks that pod name exists and holds it (shared) until the lock is
// released, so that it cannot be removed while a container is made in it.
func (s Store) Use(name string) (*lock.Lock, error) {
	if err := s.ready(name); err != nil {
		return nil, err
	}
	l, err := s.lock(name, true)
	if err != nil {
		return nil, err
	}
	if !s.exists(name) {
		l.Unlock()
		return nil, notFound(name)
	}
	return l, nil
}

// users maps each pod to the containers in it.
func (s Store) users() (map[string][]string, error) {
	cs, err := state.Names(s.layout.StateDir())
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, c := range cs {
		st, err := state.Read(s.layout.StateFile(c))
		if err != nil {
			continue
		}
		// A container whose application alone is in the pod uses it too.
		for _, p := range []string{string(st.Spec.Pod), st.Spec.OCIPod} {
			if p != "" {
				m[p] = append(m[p], c)
			}
		}
	}
	return m, nil
}

func (s Store) info(name string, users map[string][]string) Info {
	info := Info{Name: name, Active: isNetns(netnsPath(name)), Containers: append([]string{}, users[name]...)}
	if data, err := os.ReadFile(s.layout.PodState(name)); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "CREATED="); ok {
				if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
					info.Created = time.Unix(secs, 0)
				}
			}
		}
	}
	return info
}

// List returns every pod, sorted by name.
func (s Store) List() ([]Info, error) {
	if err := datadir.Prepare(s.layout); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.layout.PodsDir())
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
		if !e.IsDir() || names.Validate(e.Name()) != nil || !s.exists(e.Name()) {
			continue
		}
		out = append(out, s.info(e.Name(), users))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get describes pod name.
func (s Store) Get(name string) (Info, error) {
	if err := s.ready(name); err != nil {
		return Info{}, err
	}
	if !s.exists(name) {
		return Info{}, notFound(name)
	}
	users, err := s.users()
	if err != nil {
		return Info{}, err
	}
	return s.info(name, users), nil
}

// Users returns the containers in pod name.
func (s Store) Users(name string) ([]string, error) {
	if err := s.ready(name); err != nil {
		return nil, err
	}
	if !s.exists(name) {
		return nil, notFound(name)
	}
	users, err := s.users()
	return users[name], err
}

// ErrInUse is the error of removing a pod that containers are in; it
// names them.
func ErrInUse(name string, by []string) error {
	what := "containers"
	if len(by) == 1 {
		what = "container"
	}
	return &errdefs.Error{Kind: errdefs.Pod, Name: name, Err: fmt.Errorf("used by %s %s: %w",
		what, strings.Join(by, ", "), errdefs.ErrFailedPrecondition), Hint: errdefs.HintForce}
}

// Remove deletes pod name and its network namespace. It refuses while a
// container is in it.
func (s Store) Remove(name string) error {
	if err := s.ready(name); err != nil {
		return err
	}
	l, err := s.lock(name, false)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if !s.exists(name) {
		return notFound(name)
	}
	users, err := s.users()
	if err != nil {
		return err
	}
	if by := users[name]; len(by) > 0 {
		return ErrInUse(name, by)
	}
	if err := removeNetns(name); err != nil {
		return &errdefs.Error{Kind: errdefs.Pod, Name: name, Err: err}
	}
	// The record last: a removal cut short can be run again.
	return os.RemoveAll(s.layout.PodDir(name))
}

// runLock serialises the makers and removers of a pod's namespace; it is
// in /run with the namespace, as Ensure needs no data directory.
func runLock(name string) (*lock.Lock, error) {
	// /run/sdme is also sdme.socket's directory, which every user must be
	// able to enter (its DirectoryMode= applies only if systemd makes it);
	// the namespaces below it are root's alone.
	if err := os.MkdirAll(filepath.Dir(runDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, err
	}
	return lock.Exclusive(filepath.Join(runDir, "."+name+".lock"), fmt.Sprintf("pod %q", name), 30*time.Second)
}

// Ensure makes the network namespace of pod name, with loopback up, if it
// does not exist: at pod new, and before every start of a container in
// the pod (after a reboot /run is empty). It needs root.
func Ensure(name string) error {
	if err := names.Validate(name); err != nil {
		return err
	}
	l, err := runLock(name)
	if err != nil {
		return err
	}
	defer l.Unlock()
	path := netnsPath(name)
	if isNetns(path) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	if err := newNetns(path); err != nil {
		return fmt.Errorf("make network namespace %s: %w", path, err)
	}
	return nil
}

// removeNetns unmounts the pod's namespace (it ends once no process is in
// it) and removes its directory.
func removeNetns(name string) error {
	l, err := runLock(name)
	if err != nil {
		return err
	}
	defer l.Unlock()
	path := netnsPath(name)
	for isNetns(path) {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		return err
	}
	return nil
}

// isNetns reports whether path is a mounted namespace file.
func isNetns(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// newNetns makes a network namespace on a thread of its own, brings its
// loopback up and binds it to path. A thread that cannot return to the
// host's namespace is never given back to Go: it ends with its goroutine.
func newNetns(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(host)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		err = setupNetns(path)
		if rerr := unix.Setns(host, unix.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("return to the host's network namespace: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// setupNetns runs in the new namespace: loopback up, then the bind mount
// that keeps the namespace once the thread has left it.
func setupNetns(path string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the namespace: %w", err)
	}
	return nil
}
