// Package layout names every path sdme owns, on disk and in systemd's
// unit directories. No other package builds these paths by hand.
//
//	DATADIR/state/NAME                    container state (KEY=VALUE)
//	DATADIR/containers/NAME/upper         the container's writable layer
//	DATADIR/containers/NAME/work          overlayfs work directory
//	DATADIR/containers/NAME/merged        the mounted root while it runs
//	DATADIR/containers/NAME/volumes/VOL   an application's volume (VOL is its
//	                                      path, percent-encoded: VolumeName)
//	DATADIR/containers/NAME/submounts/REL/{upper,work}
//	                                      layers for host filesystems below /
//	DATADIR/fs/NAME/                      an imported rootfs (read-only lower layer)
//	DATADIR/fs/.NAME.meta                 what is known of it (KEY=VALUE)
//	DATADIR/fs/.NAME.import-PID/          an import in progress, renamed to fs/NAME when done
//	DATADIR/fs/.NAME.remove-PID/          a rootfs being removed
//	DATADIR/pods/NAME/state               a pod's record (KEY=VALUE)
//	DATADIR/locks/KIND/NAME.lock          per-object flock files
//	/run/sdme/pods/NAME/netns             a pod's network namespace (a bind
//	                                      mount of an nsfs file; gone at reboot)
//	/etc/systemd/system/sdme@.service     the template unit
//	/etc/systemd/system/sdme@NAME.service.d/sdme.conf  per-container drop-in
//	/run/systemd/system.control/sdme@NAME.service.d/   limits applied at run
//	                                      time (systemd writes them; sdme removes them)
package layout

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// UnitDir is where sdme writes its units; /etc, because containers that are
// enabled must survive a reboot.
const UnitDir = "/etc/systemd/system"

// TemplateUnit is the name of the template all containers are instances of.
const TemplateUnit = "sdme@.service"

// Layout resolves paths below one data directory.
type Layout struct {
	Datadir string
}

func (l Layout) StateDir() string                { return filepath.Join(l.Datadir, "state") }
func (l Layout) StateFile(name string) string    { return filepath.Join(l.StateDir(), name) }
func (l Layout) ContainersDir() string           { return filepath.Join(l.Datadir, "containers") }
func (l Layout) ContainerDir(name string) string { return filepath.Join(l.ContainersDir(), name) }
func (l Layout) Upper(name string) string        { return filepath.Join(l.ContainerDir(name), "upper") }
func (l Layout) Work(name string) string         { return filepath.Join(l.ContainerDir(name), "work") }
func (l Layout) Merged(name string) string       { return filepath.Join(l.ContainerDir(name), "merged") }
func (l Layout) Volumes(name string) string      { return filepath.Join(l.ContainerDir(name), "volumes") }

// Volume is the directory of container name that holds the volume at
// path (absolute, in the application's root).
func (l Layout) Volume(name, path string) string {
	return filepath.Join(l.Volumes(name), VolumeName(path))
}

// VolumeName is the file name of the volume at path: the path without
// its leading slash, percent-encoded ("var%2Flib%2Fmysql"), which no
// bind mount syntax reads as anything but itself (systemd-escape's
// backslashes would be taken by nspawn's --bind as escapes).
func VolumeName(path string) string {
	return url.PathEscape(strings.TrimPrefix(path, "/"))
}

func (l Layout) FsDir() string                 { return filepath.Join(l.Datadir, "fs") }
func (l Layout) Rootfs(name string) string     { return filepath.Join(l.FsDir(), name) }
func (l Layout) RootfsMeta(name string) string { return filepath.Join(l.FsDir(), "."+name+".meta") }

// Staging is the directory where a transaction of kind ("import",
// "remove") on rootfs name works; pid makes it the process's own, so
// leftovers of a dead process can be told from work in progress.
func (l Layout) Staging(name, kind string, pid int) string {
	return filepath.Join(l.FsDir(), fmt.Sprintf(".%s.%s-%d", name, kind, pid))
}

// StagingPattern matches the staging directories of kind on rootfs name,
// whatever process made them (a filepath.Glob pattern).
func (l Layout) StagingPattern(name, kind string) string {
	return filepath.Join(l.FsDir(), "."+name+"."+kind+"-*")
}

func (l Layout) PodsDir() string             { return filepath.Join(l.Datadir, "pods") }
func (l Layout) PodDir(name string) string   { return filepath.Join(l.PodsDir(), name) }
func (l Layout) PodState(name string) string { return filepath.Join(l.PodDir(name), "state") }

// PodsRunDir holds the pods' network namespaces. It is in /run: a network
// namespace does not outlive the kernel, and neither does its bind mount.
const PodsRunDir = "/run/sdme/pods"

// PodNetns is the bind mount that keeps pod name's network namespace.
func PodNetns(name string) string { return filepath.Join(PodsRunDir, name, "netns") }

func (l Layout) LocksDir() string { return filepath.Join(l.Datadir, "locks") }

func (l Layout) LockFile(kind, name string) string {
	return filepath.Join(l.LocksDir(), kind, name+".lock")
}

// Submount returns the upper and work directories of the layer that covers
// the host filesystem mounted at rel (relative to /) in a host clone.
func (l Layout) Submount(name, rel string) (upper, work string) {
	d := filepath.Join(l.ContainerDir(name), "submounts", rel)
	return filepath.Join(d, "upper"), filepath.Join(d, "work")
}

// BuildDir holds fs build's cache of layers and the working directories
// of the builds running.
func (l Layout) BuildDir() string { return filepath.Join(l.Datadir, "build") }

// IDMap is where the container's lower layer i is mounted idmapped while
// it runs in a user namespace.
func (l Layout) IDMap(name string, i int) string {
	return filepath.Join(l.ContainerDir(name), "idmap", strconv.Itoa(i))
}

// Unit is the systemd unit of container name.
func Unit(name string) string { return "sdme@" + name + ".service" }

// PortsUnit is the unit that forwards container name's ports on the
// host's loopback addresses while it runs.
func PortsUnit(name string) string { return "sdme-ports-" + name + ".service" }

// DropinDir holds the per-container drop-in of Unit(name).
func DropinDir(name string) string { return filepath.Join(UnitDir, Unit(name)+".d") }

// Dropin is the per-container drop-in file sdme writes.
func Dropin(name string) string { return filepath.Join(DropinDir(name), "sdme.conf") }

// ControlDir is where systemd keeps the properties set on Unit(name) at
// run time (SetUnitProperties with runtime set), until the next reboot.
func ControlDir(name string) string {
	return filepath.Join("/run/systemd/system.control", Unit(name)+".d")
}

// Template is the path of the template unit file.
func Template() string { return filepath.Join(UnitDir, TemplateUnit) }
