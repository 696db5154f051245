package pods

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/spec"
	"github.com/sdme/sdme/engine/state"
	"github.com/sdme/sdme/internal/testroot"
)

func TestNetnsPathIsTheLayouts(t *testing.T) {
	if got, want := netnsPath("p"), layout.PodNetns("p"); got != want {
		t.Errorf("netnsPath = %s, want %s", got, want)
	}
}

func TestNamesAreChecked(t *testing.T) {
	s := New(t.TempDir())
	for _, bad := range []string{"", "../x", "A", "a/b"} {
		if _, err := s.Create(bad); !errors.Is(err, errdefs.ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", bad, err)
		}
		if err := s.Remove(bad); !errors.Is(err, errdefs.ErrInvalidName) {
			t.Errorf("Remove(%q) = %v, want ErrInvalidName", bad, err)
		}
		if err := Ensure(bad); !errors.Is(err, errdefs.ErrInvalidName) {
			t.Errorf("Ensure(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

// loUp reports whether loopback is up in the namespace at path.
func loUp(t *testing.T, path string) bool {
	t.Helper()
	up := make(chan bool, 1)
	go func() {
		runtime.LockOSThread()
		host, _ := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil || unix.Setns(ns, unix.CLONE_NEWNET) != nil {
			runtime.UnlockOSThread()
			up <- false
			return
		}
		defer unix.Close(ns)
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		ifr, _ := unix.NewIfreq("lo")
		err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		unix.Close(fd)
		if unix.Setns(host, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		up <- err == nil && ifr.Uint16()&unix.IFF_UP != 0
	}()
	return <-up
}

// TestLifecycle: create, list, in use, ensure after the namespace is gone
// (a reboot), remove.
func TestLifecycle(t *testing.T) {
	testroot.Require(t)
	runDir = t.TempDir()
	defer func() { runDir = layout.PodsRunDir }()
	s := New(t.TempDir())

	info, err := s.Create("web")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Active || info.Name != "web" || time.Since(info.Created) > time.Minute {
		t.Errorf("Create = %+v", info)
	}
	if !isNetns(netnsPath("web")) || !loUp(t, netnsPath("web")) {
		t.Fatal("no namespace with loopback up")
	}
	if _, err := s.Create("web"); !errors.Is(err, errdefs.ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	fi, err := os.Stat(s.layout.PodsDir())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("pods dir: %v, %v; want 0700", fi, err)
	}

	// A container in the pod.
	c := state.Container{Name: "db", Created: time.Now(), Spec: spec.Spec{Pod: "web"}}
	if err := state.Write(s.layout.StateFile("db"), c); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Name != "web" || !list[0].Active || strings.Join(list[0].Containers, ",") != "db" ||
		list[0].Created.Unix() != info.Created.Unix() {
		t.Fatalf("List = %+v, %v", list, err)
	}
	err = s.Remove("web")
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "db") {
		t.Errorf("Remove of a pod in use = %v; want it refused, naming db", err)
	}
	if l, err := s.Use("web"); err != nil {
		t.Errorf("Use = %v", err)
	} else {
		l.Unlock()
	}

	// A reboot: /run is empty.
	if err := unix.Unmount(netnsPath("web"), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(runDir + "/web")
	if got, _ := s.Get("web"); got.Active {
		t.Error("Get says active without a namespace")
	}
	if err := Ensure("web"); err != nil || !loUp(t, netnsPath("web")) {
		t.Fatalf("Ensure = %v; want the namespace back with loopback up", err)
	}
	if err := Ensure("web"); err != nil {
		t.Errorf("Ensure again = %v", err)
	}

	os.Remove(s.layout.StateFile("db"))
	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	if isNetns(netnsPath("web")) {
		t.Error("namespace still mounted")
	}
	if _, err := os.Stat(s.layout.PodDir("web")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left: %v", err)
	}
	if _, err := s.Use("web"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `pod "web"`) {
		t.Errorf("Use after Remove = %v; want not found, naming the pod", err)
	}
	if err := s.Remove("web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Remove again = %v", err)
	}
}
