// Package ociapp makes an OCI application image into a service of a base
// rootfs, and runs it there.
//
// An application rootfs holds only what the image brings: the image's tree
// at /oci/root, the unit sdme-oci-app.service that runs its Entrypoint and
// Cmd there (RootDirectory=/oci/root), the image's environment (/oci/env)
// and a record of its configuration (/oci/app.json). A container mounts it
// over its base as one more overlay lower layer, so the base is shared by
// every application built on it, never copied.
//
// The unit runs the application through this binary, bound into the
// container by nspawn and into the application's root by systemd (`sdme
// oci-exec`, see exec.go): it takes the image's user as numbers resolved
// from the image's own /etc/passwd (systemd would look the name up in the
// base's), and gives the application pipes where the journal gives
// sockets, so that it may open /dev/stdout as it can under Docker.
package ociapp

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	v1 "github.com/regclient/regclient/types/oci/v1"
	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
)

// Paths inside an application rootfs and its containers.
const (
	// Dir holds the application: its tree, environment and record.
	Dir = "/oci"
	// Root is the application's own tree, its services' RootDirectory.
	Root = "/oci/root"
	// EnvFile is the image's environment, in EnvironmentFile format.
	EnvFile = "/oci/env"
	// ContainerEnvFile is the container's --env, which the application
	// gets too and which overrides the image's (written at create).
	ContainerEnvFile = "/oci/container.env"
	// RecordFile is the application's record (App as JSON).
	RecordFile = "/oci/app.json"
	// Unit is the application's service in the container.
	Unit = "sdme-oci-app.service"
	// Helper is where the container finds this binary, bound by nspawn
	// from the host and by systemd into the application's root.
	Helper = "/run/sdme/sdme"
	// PodNetns is where a container whose application is in a pod
	// (--oci-pod) finds the pod's network namespace.
	PodNetns = "/run/sdme/oci-pod-netns"
	// VolumesDir is where nspawn binds a container's volumes, for the
	// application's service to bind them into its root.
	VolumesDir = "/run/sdme/volumes"
)

// App is what sdme keeps of an application image's configuration.
type App struct {
	// Image is the reference it was imported from; Digest its manifest's.
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
	// Argv is the image's Entrypoint followed by its Cmd.
	Argv []string `json:"argv"`
	// User is the image's User as written; UID, GID, Groups and Home are
	// what it resolves to in the image's /etc/passwd and /etc/group.
	User       string   `json:"user,omitempty"`
	UID        uint32   `json:"uid"`
	GID        uint32   `json:"gid"`
	Groups     []uint32 `json:"groups,omitempty"`
	Home       string   `json:"home"`
	WorkingDir string   `json:"workingDir"`
	Env        []string `json:"env,omitempty"`
	// StopSignal is the signal that stops it (systemd's KillSignal=).
	StopSignal   string            `json:"stopSignal,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// Image is what FromImage needs of an image.
type Image struct {
	Ref, Digest string
	Config      v1.ImageConfig
}

// FromImage reads the configuration of an application image whose tree is
// at root. Its user is looked up in the tree's own /etc/passwd and
// /etc/group. Settings sdme cannot carry out (a signal it does not know,
// a volume path that a bind mount cannot express) are left out, each with
// a warning; an image with nothing to run, or whose user does not exist,
// is an error.
func FromImage(img Image, root string) (App, []string, error) {
	c := img.Config
	a := App{Image: img.Ref, Digest: img.Digest, User: c.User, Labels: c.Labels}
	a.Argv = append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(a.Argv) == 0 {
		return App{}, nil, fmt.Errorf("image %s has neither an Entrypoint nor a Cmd: there is no application to run: %w", img.Ref, errdefs.ErrUnsupported)
	}
	for _, arg := range a.Argv {
		if strings.IndexByte(arg, 0) >= 0 || !utf8.ValidString(arg) {
			return App{}, nil, fmt.Errorf("image %s: its command has an argument that is not UTF-8 text: %w", img.Ref, errdefs.ErrUnsupported)
		}
	}
	var err error
	if a.UID, a.GID, a.Groups, a.Home, err = resolveUser(root, c.User); err != nil {
		return App{}, nil, fmt.Errorf("image %s: %w", img.Ref, err)
	}
	a.WorkingDir = "/"
	if c.WorkingDir != "" {
		// Docker takes a relative WorkingDir from /.
		a.WorkingDir = path.Clean("/" + c.WorkingDir)
	}
	var warns []string
	warn := func(format string, args ...any) { warns = append(warns, fmt.Sprintf(format, args...)) }
	if badText(a.WorkingDir) {
		return App{}, nil, fmt.Errorf("image %s: WorkingDir %q is not a path: %w", img.Ref, c.WorkingDir, errdefs.ErrUnsupported)
	}
	hasHome := false
	for _, kv := range c.Env {
		if err := checkEnv(kv); err != nil {
			warn("image environment variable %q left out: %v", kv, err)
			continue
		}
		a.Env = append(a.Env, kv)
		hasHome = hasHome || strings.HasPrefix(kv, "HOME=")
	}
	if !hasHome && !badText(a.Home) {
		// As Docker: the user's home, unless the image says otherwise
		// (systemd would give root's to a transient unit).
		a.Env = append(a.Env, "HOME="+a.Home)
	}
	if c.StopSignal != "" {
		if a.StopSignal = signalName(c.StopSignal); a.StopSignal == "" {
			warn("StopSignal %q is not a signal; the application stops with SIGTERM", c.StopSignal)
		}
	}
	for p := range c.ExposedPorts {
		norm, err := NormalizePort(p)
		if err != nil {
			warn("exposed port %q left out: %v", p, err)
			continue
		}
		a.ExposedPorts = append(a.ExposedPorts, norm)
	}
	sort.Strings(a.ExposedPorts)
	for v := range c.Volumes {
		clean, err := CheckVolume(v)
		if err != nil {
			warn("volume %q left out: %v", v, err)
			continue
		}
		a.Volumes = append(a.Volumes, clean)
	}
	sort.Strings(a.Volumes)
	return a, warns, nil
}

// badText reports a string no unit file line carries.
func badText(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// checkEnv refuses what systemd would not take from an environment file:
// a name that is not letters, digits and '_', a value with control
// characters other than tab and newline, text that is not UTF-8.
func checkEnv(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	switch {
	case !ok:
		return fmt.Errorf("not KEY=VALUE")
	case k == "" || (k[0] >= '0' && k[0] <= '9') || strings.ContainsFunc(k, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}):
		return fmt.Errorf("the name is not letters, digits and '_'")
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f }):
		return fmt.Errorf("the value has control characters")
	}
	return nil
}

// signalName turns an image's StopSignal (SIGQUIT, QUIT, 3) into the
// signal's name, or "" if it is none.
func signalName(s string) string {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n >= 32 {
			return ""
		}
		s = unix.SignalName(unix.Signal(n))
	}
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if unix.SignalNum(s) == 0 || !stopsProcess[s] {
		return ""
	}
	return s
}

// stopsProcess are the signals a stop signal may be: those oci-exec
// passes on and that a process may be asked to stop by (SIGWINCH is
// Apache's graceful stop).
var stopsProcess = map[string]bool{}

func init() {
	for i := 1; i < 32; i++ {
		stopsProcess[unix.SignalName(unix.Signal(i))] = true
	}
	for _, s := range []string{"SIGPIPE", "SIGURG", "SIGCHLD", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT"} {
		delete(stopsProcess, s)
	}
}

// NormalizePort reads an exposed port, "80", "80/tcp" or "53/udp", as
// "80/tcp".
func NormalizePort(p string) (string, error) {
	num, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("protocol %q is not tcp, udp or sctp", proto)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("%q is not a port number", num)
	}
	return fmt.Sprintf("%d/%s", n, proto), nil
}

// maxName is the longest file name (NAME_MAX).
const maxName = 255

// CheckVolume returns the clean form of an image volume's path, or why it
// cannot be one: it must be an absolute path below / that an nspawn bind
// mount can name, and not one of the trees systemd mounts itself.
func CheckVolume(v string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", fmt.Errorf("not an absolute path")
	}
	clean := path.Clean(v)
	if clean == "/" {
		return "", fmt.Errorf("the whole tree cannot be a volume")
	}
	// BindPaths= takes quotes away; the other characters separate.
	if badText(clean) || strings.ContainsAny(clean, ":,\\ \t\"'") {
		return "", fmt.Errorf("the path has a character a bind mount cannot name (':', ',', '\\', a quote, a space or a control character)")
	}
	if len(layout.VolumeName(clean)) > maxName {
		return "", fmt.Errorf("the path is too long to name a directory after it")
	}
	for _, api := range []string{"/proc", "/sys", "/dev", "/run"} {
		if clean == api || strings.HasPrefix(clean, api+"/") {
			return "", fmt.Errorf("%s belongs to the system", api)
		}
	}
	return clean, nil
}
