package importer

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/sys/unix"
)

func TestIsTarHeader(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.Close()
	if !isTarHeader(b.Bytes()) {
		t.Error("a tar header was not recognised")
	}
	if isTarHeader(make([]byte, 512)) {
		t.Error("zeros taken for a tar header")
	}
	junk := bytes.Repeat([]byte("x"), 512)
	if isTarHeader(junk) || isTarHeader(b.Bytes()[:100]) {
		t.Error("junk or a short block taken for a tar header")
	}
}

func TestDefaultName(t *testing.T) {
	cases := map[source]string{
		{kindRegistry, "docker.io/library/debian:12"}:             "debian",
		{kindRegistry, "quay.io/fedora/fedora"}:                   "fedora",
		{kindRegistry, "127.0.0.1:5000/sdme/base@sha256:" + sha0}: "base",
		{kindURL, "https://example.com/x/ubuntu.tar.xz?dl=1"}:     "ubuntu",
		{kindTarball, "/tmp/rootfs.tar.zst"}:                      "rootfs",
		{kindTarball, "/tmp/fedora.oci.tar.xz"}:                   "fedora",
		{kindDisk, "/images/debian-sid.qcow2"}:                    "debian-sid",
		{kindDirectory, "/tmp/noble/"}:                            "noble",
	}
	for src, want := range cases {
		got, err := src.defaultName()
		if err != nil || got != want {
			t.Errorf("%v %q: got %q, %v; want %q", src.kind, src.arg, got, err, want)
		}
	}
	if _, err := (source{kindTarball, "/tmp/Fedora-43.x86_64.oci.tar.xz"}).defaultName(); err == nil {
		t.Error("an invalid derived name was accepted")
	}
}

const sha0 = "0000000000000000000000000000000000000000000000000000000000000000"

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	qcow := mk("img", append([]byte("QFI\xfb"), make([]byte, 600)...))
	tarball := mk("x.qcow2", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0}) // zstd, whatever the name
	layout := filepath.Join(dir, "layout")
	os.Mkdir(layout, 0o755)
	mk("layout/oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	docker := filepath.Join(dir, "docker")
	os.Mkdir(docker, 0o755)
	mk("docker/manifest.json", []byte(`[]`))
	for arg, want := range map[string]kind{
		qcow: kindDisk, tarball: kindTarball, layout: kindLayout, docker: kindDockerArchive, dir: kindDirectory,
		"https://example.com/a.tar": kindURL, "docker.io/debian": kindRegistry, "localhost:5000/a/b:1": kindRegistry,
	} {
		src, err := detect(arg)
		if err != nil || src.kind != want {
			t.Errorf("detect(%q) = %v, %v; want %v", arg, src.kind, err, want)
		}
	}
	for _, arg := range []string{"", "/no/such/path", "debian", "./relative/missing"} {
		if _, err := detect(arg); err == nil {
			t.Errorf("detect(%q) accepted", arg)
		}
	}
}

func TestInspectStaysInside(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/systemd/systemd"), nil, 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/../../../usr/bin", filepath.Join(root, "evil"))
	os.Symlink("/evil/dbus-daemon", filepath.Join(root, "usr/dbus"))
	if !anyExists(root, []string{"lib/systemd/systemd"}) {
		t.Error("a path through a relative symlink was not found")
	}
	// The host has /usr/bin/dbus-daemon or not; the tree never does.
	if anyExists(root, []string{"evil/dbus-daemon", "usr/dbus"}) {
		t.Error("anyExists followed a symlink out of the tree")
	}
	// os-release as a FIFO: a plain open would block forever.
	if err := unix.Mkfifo(filepath.Join(root, "etc/os-release"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte("PRETTY_NAME=\"Evil\x1b]0;owned\x07\x1b[2J OS\"\n"), 0o644)
	done := make(chan map[string]string)
	go func() { done <- osRelease(root) }()
	select {
	case osr := <-done:
		if got := osr["PRETTY_NAME"]; got != "Evil]0;owned[2J OS" {
			t.Errorf("PRETTY_NAME = %q, want it without control characters", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("osRelease blocked on a FIFO")
	}
}

func TestParseOSRelease(t *testing.T) {
	got := parseOSRelease([]byte("# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nPRETTY_NAME='Debian 13'\n=x\nbroken\nVERSION_ID=\"13\"\n"))
	want := map[string]string{"NAME": "Debian GNU/Linux", "ID": "debian", "PRETTY_NAME": "Debian 13", "VERSION_ID": "13"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseOSRelease = %v, want %v", got, want)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n"))
	f.Add([]byte("PRETTY_NAME=\"\\x1b[2J\"\nID='a'\n#x=y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k, v := range parseOSRelease(data) {
			if strings.ContainsFunc(k+v, unicode.IsControl) {
				t.Fatalf("control character in %q=%q", k, v)
			}
		}
	})
}
