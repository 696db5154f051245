package importer

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
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

func TestInRootStaysInside(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/systemd/systemd"), nil, 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/../../../etc", filepath.Join(root, "evil"))
	if !anyExists(root, []string{"lib/systemd/systemd"}) {
		t.Error("a path through a relative symlink was not found")
	}
	if got := inRoot(root, "evil/passwd"); got != filepath.Join(root, "etc/passwd") {
		t.Errorf("inRoot escaped: %s", got)
	}
}
