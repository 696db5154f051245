// Package layout names every path sdme owns, on disk and in systemd's
// unit directories. No other package builds these paths by hand.
//
//	DATADIR/state/NAME                    container state (KEY=VALUE)
//	DATADIR/containers/NAME/upper         the container's writable layer
//	DATADIR/containers/NAME/work          overlayfs work directory
//	DATADIR/containers/NAME/merged        the mounted root while it runs
//	DATADIR/containers/NAME/submounts/REL/{upper,work}
//	                                      layers for host filesystems below /
//	DATADIR/locks/KIND/NAME.lock          per-object flock files
//	/etc/systemd/system/sdme@.service     the template unit
//	/etc/systemd/system/sdme@NAME.service.d/sdme.conf  per-container drop-in
package layout

import "path/filepath"

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
func (l Layout) LockFile(kind, name string) string {
	return filepath.Join(l.Datadir, "locks", kind, name+".lock")
}

// Submount returns the upper and work directories of the layer that covers
// the host filesystem mounted at rel (relative to /) in a host clone.
func (l Layout) Submount(name, rel string) (upper, work string) {
	d := filepath.Join(l.ContainerDir(name), "submounts", rel)
	return filepath.Join(d, "upper"), filepath.Join(d, "work")
}

// Unit is the systemd unit of container name.
func Unit(name string) string { return "sdme@" + name + ".service" }

// DropinDir holds the per-container drop-in of Unit(name).
func DropinDir(name string) string { return filepath.Join(UnitDir, Unit(name)+".d") }

// Dropin is the per-container drop-in file sdme writes.
func Dropin(name string) string { return filepath.Join(DropinDir(name), "sdme.conf") }

// Template is the path of the template unit file.
func Template() string { return filepath.Join(UnitDir, TemplateUnit) }
