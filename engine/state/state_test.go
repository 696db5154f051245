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
)

func TestRoundTrip(t *testing.T) {
	in := Container{
		Name:           "web",
		Created:        time.Unix(1764300000, 0),
		OpaqueDirs:     []string{"/etc/systemd/system", "/var/log"},
		MaskedServices: []string{"systemd-resolved.service"},
		Enabled:        true,
	}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATED=1764300000\nENABLED=yes\nMASKED_SERVICES=systemd-resolved.service\nNAME=web\nOPAQUE_DIRS=/etc/systemd/system,/var/log\nROOTFS=\n"
	if string(data) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, want)
	}
	out, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("Unmarshal(Marshal(x)) = %+v, want %+v", out, in)
	}
}

func TestUnknownKeysSurvive(t *testing.T) {
	c, err := Unmarshal([]byte("NAME=a\nCREATED=1\nPORTS=8080:80\nMEMORY=1G\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := c.Marshal()
	c2, _ := Unmarshal(data)
	if c2.extra["PORTS"] != "8080:80" || c2.extra["MEMORY"] != "1G" {
		t.Errorf("unknown keys lost: %q", data)
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
	_, err := Container{Name: "a", Rootfs: "x\ny"}.Marshal()
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
