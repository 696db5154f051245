package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/spec"
)

// A state file of every feature, as this version writes it: sorted keys,
// the spec's keys among the container's own.
const full = `BINDS=/srv/data:/data:rw|/var/log/app:/log:ro
CPUS=0.5
CPU_WEIGHT=200
CREATED=1764300000
ENABLED=yes
ENVS=A=1|B=two words $x %y \\z
MASKED_SERVICES=systemd-resolved.service
MEMORY=2147483648
NAME=web
OPAQUE_DIRS=/etc/systemd/system,/var/log
ROOTFS=debian
TASKS_MAX=100
`

func TestRoundTrip(t *testing.T) {
	c, err := Unmarshal([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Spec{
		Root:   spec.Root{Rootfs: "debian", OpaqueDirs: []string{"/etc/systemd/system", "/var/log"}},
		Binds:  spec.Binds{{Host: "/srv/data", Container: "/data"}, {Host: "/var/log/app", Container: "/log", ReadOnly: true}},
		Env:    spec.Env{"A=1", `B=two words $x %y \\z`},
		Limits: spec.Limits{Memory: 2 << 30, CPUs: 0.5, CPUWeight: 200, TasksMax: 100},
	}
	got := c.Spec
	if got.Rootfs != want.Rootfs || !reflect.DeepEqual(got.OpaqueDirs, want.OpaqueDirs) || !reflect.DeepEqual(got.Binds, want.Binds) ||
		!reflect.DeepEqual(got.Env, want.Env) || got.Limits != want.Limits {
		t.Errorf("Unmarshal: spec = %+v, want %+v", got, want)
	}
	if c.Name != "web" || !c.Enabled || c.Created.Unix() != 1764300000 || len(c.Unknown()) != 0 {
		t.Errorf("Unmarshal = %+v", c)
	}
	data, err := c.Marshal()
	if err != nil || string(data) != full {
		t.Errorf("Marshal =\n%s\nwant\n%s (%v)", data, full, err)
	}
}

// A state file written by the first versions, before the spec: it reads
// as a container with no binds, env or limits, and nothing unknown.
func TestFileWithoutSpec(t *testing.T) {
	old := "CREATED=1764300000\nENABLED=no\nMASKED_SERVICES=systemd-resolved.service\nNAME=web\nOPAQUE_DIRS=/etc/systemd/system,/var/log\nROOTFS=\n"
	c, err := Unmarshal([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Rootfs != "" || len(c.Spec.Binds) != 0 || len(c.Spec.Env) != 0 || c.Spec.Limits != (spec.Limits{}) || len(c.Unknown()) != 0 {
		t.Errorf("Unmarshal(old) = %+v, unknown %v", c, c.Unknown())
	}
	if data, _ := c.Marshal(); string(data) != old {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, old)
	}
}

func TestUnknownKeysSurvive(t *testing.T) {
	c, err := Unmarshal([]byte("NAME=a\nCREATED=1\nKUBE_YAML_HASH=65536\nKUBE=yes\nAPPARMOR_PROFILE=\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Unknown(); !reflect.DeepEqual(got, []string{"KUBE", "KUBE_YAML_HASH"}) {
		t.Errorf("Unknown() = %v, want [KUBE KUBE_YAML_HASH]", got)
	}
	data, _ := c.Marshal()
	c2, _ := Unmarshal(data)
	if c2.extra["KUBE_YAML_HASH"] != "65536" || c2.extra["KUBE"] != "yes" {
		t.Errorf("unknown keys lost: %q", data)
	}
}

func TestDamagedSpec(t *testing.T) {
	for _, bad := range []string{"MEMORY=lots", "BINDS=/secret", "CPUS=secret", "ENVS=NOSECRET"} {
		_, err := Unmarshal([]byte("NAME=a\nCREATED=1\n" + bad + "\n"))
		if !errors.Is(err, errdefs.ErrCorrupt) || errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Unmarshal(%s) = %v, want ErrCorrupt only", bad, err)
		}
		// Errors never quote a state file: read through a hostile name,
		// it could be any file of the host.
		if v := bad[strings.Index(bad, "=")+1:]; strings.Contains(err.Error(), v) {
			t.Errorf("Unmarshal(%s) = %v, quotes the value", bad, err)
		}
	}
}

func TestIncomplete(t *testing.T) {
	c, err := Unmarshal(nil)
	if err != nil || c.Complete() {
		t.Errorf("Unmarshal(empty) = %+v, %v; want incomplete, nil", c, err)
	}
	if _, err := Unmarshal([]byte("garbage\n")); err == nil {
		t.Error("Unmarshal(garbage) = nil error")
	}
}

func TestRejectsNewlines(t *testing.T) {
	_, err := Container{Name: "a", Spec: spec.Spec{Root: spec.Root{Rootfs: "x\ny"}}}.Marshal()
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Marshal with newline = %v, want ErrInvalidArgument", err)
	}
}

func TestClaimWriteReadNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	p := filepath.Join(dir, "a")
	if err := Claim(p); err != nil {
		t.Fatal(err)
	}
	if err := Claim(p); !errors.Is(err, errdefs.ErrExists) {
		t.Fatalf("second Claim = %v, want ErrExists", err)
	}
	c, err := Read(p)
	if err != nil || c.Complete() {
		t.Fatalf("Read(claimed) = %+v, %v", c, err)
	}
	if err := Write(p, Container{Name: "a", Created: time.Unix(5, 0)}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	os.WriteFile(filepath.Join(dir, ".b.tmp-1"), nil, 0o600)
	names, err := Names(dir)
	if err != nil || !reflect.DeepEqual(names, []string{"a"}) {
		t.Errorf("Names = %v, %v; want [a]", names, err)
	}
	if _, err := Read(filepath.Join(dir, "zz")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Read(missing) = %v, want ErrNotFound", err)
	}
}

func TestUnmarshalDamaged(t *testing.T) {
	secret := "root:$y$j9T$secret:19000:0:99999:7:::"
	_, err := Unmarshal([]byte("NAME=a\n" + secret + "\n"))
	if !errors.Is(err, errdefs.ErrCorrupt) || strings.Contains(err.Error(), "secret") {
		t.Errorf("line without '=': %v; want ErrCorrupt not quoting the line", err)
	}
	long := "NAME=a\nCREATED=1\nX=" + strings.Repeat("y", 1<<17) + "\n"
	if c, err := Unmarshal([]byte(long)); err != nil || c.Name != "a" {
		t.Errorf("a line over 64 KiB: %+v, %v", c.Name, err)
	}
	if _, err := Unmarshal([]byte(strings.Repeat("z", 1<<17))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("a long line without '=': %v, want ErrCorrupt", err)
	}
}
