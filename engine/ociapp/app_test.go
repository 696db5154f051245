package ociapp

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/regclient/regclient/types/oci/v1"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/systemd"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// tree makes an image tree with these passwd and group files.
func tree(t *testing.T, passwd, group string) string {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if passwd != "" {
		os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644)
	}
	if group != "" {
		os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644)
	}
	return root
}

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\nweb:x:1000:1000::/www:/bin/sh\nodd:x:12:notanumber::/:/bin/sh\n"
	group  = "root:x:0:\nnginx:x:101:\nweb:x:1000:\nextra:x:1500:web,nginx\nmore:x:1600:nginx\nwww-data:x:33:\n"
)

func TestResolveUser(t *testing.T) {
	root := tree(t, passwd, group)
	for _, c := range []struct {
		user     string
		uid, gid uint32
		groups   []uint32
		home     string
	}{
		{"", 0, 0, nil, "/root"},
		{"root", 0, 0, nil, "/root"},
		{"nginx", 101, 101, []uint32{1500, 1600}, "/var/cache/nginx"},
		{"web", 1000, 1000, []uint32{1500}, "/www"},
		{"1000", 1000, 1000, []uint32{1500}, "/www"},
		// A number missing from passwd: group 0 and home /, as Docker.
		{"4242", 4242, 0, nil, "/"},
		{"4242:4343", 4242, 4343, nil, "/"},
		{"web:www-data", 1000, 33, []uint32{1500}, "/www"},
		{"nginx:1600", 101, 1600, []uint32{1500}, "/var/cache/nginx"},
	} {
		uid, gid, groups, home, err := resolveUser(root, c.user)
		if err != nil {
			t.Errorf("%q: %v", c.user, err)
			continue
		}
		if uid != c.uid || gid != c.gid || !reflect.DeepEqual(groups, c.groups) || home != c.home {
			t.Errorf("%q: got %d:%d %v %s, want %d:%d %v %s", c.user, uid, gid, groups, home, c.uid, c.gid, c.groups, c.home)
		}
	}
	for _, bad := range []string{"nobody", "web:nogroup", "odd", "4294967295"} {
		if _, _, _, _, err := resolveUser(root, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// No passwd at all: names fail, numbers work.
	empty := tree(t, "", "")
	if _, _, _, _, err := resolveUser(empty, "web"); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("no passwd: %v", err)
	}
	if uid, gid, _, _, err := resolveUser(empty, "7:8"); err != nil || uid != 7 || gid != 8 {
		t.Errorf("numbers without passwd: %d:%d %v", uid, gid, err)
	}
}

// The passwd file is looked up inside the image: a symlink to the host's
// is the image's own path, and a FIFO is never opened.
func TestResolveUserStaysInTree(t *testing.T) {
	root := tree(t, "", "")
	os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd"))
	if _, _, _, _, err := resolveUser(root, "root"); err == nil {
		t.Error("the host's passwd was read through the image's symlink")
	}
}

func TestArgv(t *testing.T) {
	root := tree(t, passwd, group)
	for _, c := range []struct {
		entry, cmd, want []string
	}{
		{[]string{"/docker-entrypoint.sh"}, []string{"nginx", "-g", "daemon off;"}, []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}},
		{nil, []string{"redis-server"}, []string{"redis-server"}},
		{[]string{"/bin/app", "--flag"}, nil, []string{"/bin/app", "--flag"}},
	} {
		a, _, err := FromImage(Image{Ref: "r", Config: v1.ImageConfig{Entrypoint: c.entry, Cmd: c.cmd}}, root)
		if err != nil || !reflect.DeepEqual(a.Argv, c.want) {
			t.Errorf("%v + %v: %v %v", c.entry, c.cmd, a.Argv, err)
		}
	}
	if _, _, err := FromImage(Image{Ref: "r"}, root); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("nothing to run: %v", err)
	}
	if _, _, err := FromImage(Image{Ref: "r", Config: v1.ImageConfig{Cmd: []string{"a\x00b"}}}, root); err == nil {
		t.Error("a NUL in the command was taken")
	}
}

func TestFromImageKeepsWhatItCanCarry(t *testing.T) {
	root := tree(t, passwd, group)
	cfg := v1.ImageConfig{
		Cmd: []string{"app"}, WorkingDir: "srv/app", StopSignal: "quit",
		Env:          []string{"A=1", "B=x=y", "BAD NAME=1", "1X=2", "C=line\nbreak", "D=\x01", "NOEQUALS"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/UDP": {}, "8080": {}, "x/tcp": {}, "70000/tcp": {}, "5/icmp": {}},
		Volumes:      map[string]struct{}{"/data": {}, "/var/lib/mysql/": {}, "relative": {}, "/": {}, "/a:b": {}, "/proc/x": {}},
		Labels:       map[string]string{"k": "v"},
	}
	a, warns, err := FromImage(Image{Ref: "r", Config: cfg}, root)
	if err != nil {
		t.Fatal(err)
	}
	if a.WorkingDir != "/srv/app" || a.StopSignal != "SIGQUIT" || a.Labels["k"] != "v" {
		t.Errorf("got %+v", a)
	}
	// HOME is the user's (root's here), as Docker sets it.
	if want := []string{"A=1", "B=x=y", "C=line\nbreak", "HOME=/root"}; !reflect.DeepEqual(a.Env, want) {
		t.Errorf("env %q, want %q", a.Env, want)
	}
	if want := []string{"53/udp", "80/tcp", "8080/tcp"}; !reflect.DeepEqual(a.ExposedPorts, want) {
		t.Errorf("ports %q, want %q", a.ExposedPorts, want)
	}
	if want := []string{"/data", "/var/lib/mysql"}; !reflect.DeepEqual(a.Volumes, want) {
		t.Errorf("volumes %q, want %q", a.Volumes, want)
	}
	if len(warns) != 4+3+4 {
		t.Errorf("%d warnings: %q", len(warns), warns)
	}
	for s, want := range map[string]string{
		"SIGTERM": "SIGTERM", "15": "SIGTERM", "TERM": "SIGTERM", "sigwinch": "SIGWINCH", "3": "SIGQUIT",
		// Not signals, or ones that would never stop the application
		// (oci-exec keeps SIGPIPE, SIGCHLD and SIGURG; SIGSTOP stops it).
		"SIGRTMIN+3x": "", "99": "", "0": "", "SIGPIPE": "", "SIGCHLD": "", "SIGURG": "", "SIGSTOP": "", "19": "", "SIGCONT": "",
	} {
		if got := signalName(s); got != want {
			t.Errorf("signal %q: %q, want %q", s, got, want)
		}
	}
	// An image that sets HOME keeps it.
	a, _, _ = FromImage(Image{Ref: "r", Config: v1.ImageConfig{Cmd: []string{"app"}, User: "web", Env: []string{"HOME=/srv"}}}, root)
	if !reflect.DeepEqual(a.Env, []string{"HOME=/srv"}) {
		t.Errorf("the image's HOME: %q", a.Env)
	}
}

// EnvironmentFile quoting: what systemd reads back is the value itself.
func TestEnvFileContent(t *testing.T) {
	got := string(EnvFileContent([]string{"A=plain", `B=q"uo\te$HOME ` + "`cmd`", "C=two\nlines", "D=", "E=50% 'single'"}))
	want := "A=\"plain\"\nB=\"q\\\"uo\\\\te\\$HOME \\`cmd\\`\"\nC=\"two\nlines\"\nD=\"\"\nE=\"50% 'single'\"\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestUnitGolden(t *testing.T) {
	root := tree(t, passwd, group)
	a, _, err := FromImage(Image{Ref: "docker.io/library/nginx:1.27", Config: v1.ImageConfig{
		Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
		User: "nginx", WorkingDir: "/", StopSignal: "SIGQUIT", Env: []string{"NGINX_VERSION=1.27"},
	}}, root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Unit()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "nginx.service")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("unit:\n%s\nwant:\n%s", got, want)
	}
	// Arguments with specifiers, variables and quotes reach the program
	// as they are.
	a.Argv = []string{"/bin/sh", "-c", `echo "$HOME" 100% \ok`}
	u, err := a.Unit()
	if err != nil || !strings.Contains(u, `-- /bin/sh -c "echo \"$$HOME\" 100%% \\ok"`) {
		t.Errorf("quoting: %v\n%s", err, u)
	}
}

func TestCheckVolume(t *testing.T) {
	for v, ok := range map[string]bool{
		"/data": true, "/var/lib/mysql/": true, "/a/../b": true, "data": false, "/": false, "/..": false,
		"/a,b": false, "/a:b": false, `/a\b`: false, "/a\nb": false, "/a b": false, "/a-b": true, `/run"`: false, "/it's": false, "/" + strings.Repeat("é", 42): true, "/" + strings.Repeat("é", 50): false, "/proc": false, "/dev/shm": false, "/run/x": false, "/running": true,
	} {
		if _, err := CheckVolume(v); (err == nil) != ok {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// Volumes are bound by systemd inside the application's root, from
// where nspawn put them: names no bind syntax misreads.
func TestVolumeBinds(t *testing.T) {
	got, err := systemd.RenderDropin([]systemd.Section{{Name: "Service", Settings: VolumeBinds([]string{"/data", "/var/lib/my-sql", "/a%b"})}})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by sdme; changes are overwritten.\n[Service]\n" +
		"BindPaths=/run/sdme/volumes/data:/data\n" +
		"BindPaths=/run/sdme/volumes/var%%2Flib%%2Fmy-sql:/var/lib/my-sql\n" +
		"BindPaths=/run/sdme/volumes/a%%25b:/a%%b\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestInstallAndRead(t *testing.T) {
	dir := t.TempDir()
	tr, scratch := filepath.Join(dir, "rootfs"), filepath.Join(dir, "work")
	os.MkdirAll(filepath.Join(tr, "etc"), 0o755)
	os.Mkdir(scratch, 0o700)
	os.WriteFile(filepath.Join(tr, "etc/passwd"), []byte(passwd), 0o644)
	// An image whose run is a symlink out of it: left alone, not followed.
	os.Symlink("/etc", filepath.Join(tr, "run"))
	a := App{Image: "r", Argv: []string{"/app"}, UID: 101, GID: 101, Home: "/", WorkingDir: "/", Env: []string{"A=1"}}
	if err := Install(tr, scratch, a); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"oci/root/etc/passwd", "oci/root/proc", "oci/root/tmp", "oci/env", "oci/app.json", "etc/systemd/system/" + Unit} {
		if _, err := os.Stat(filepath.Join(tr, p)); err != nil {
			t.Error(err)
		}
	}
	if l, _ := os.Readlink(filepath.Join(tr, "oci/root/run")); l != "/etc" {
		t.Errorf("the image's run was replaced: %q", l)
	}
	if l, _ := os.Readlink(filepath.Join(tr, "etc/systemd/system/multi-user.target.wants", Unit)); l != "../"+Unit {
		t.Errorf("not enabled: %q", l)
	}
	got, err := Read(tr)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("read back %+v, %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(tr, "oci/root/tmp")); fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v", fi.Mode())
	}
}
