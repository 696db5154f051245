// Package fsmeta restores the metadata of a file: owner, mode, extended
// attributes and times, as tar -x and cp -a do, for files named by a
// directory descriptor and a name in it. It never follows a symlink.
//
// The order of the calls matters and is the package's reason to exist:
// chown clears the setuid and setgid bits and the file capabilities
// (security.capability), and writing to a file clears them too, so a
// file's content is written first, then its owner, then its mode, then its
// extended attributes; times come last of all.
package fsmeta

import (
	"bytes"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Node is a file that was just created, named by a descriptor of its own
// or by a directory descriptor and a name in it. Regular files and
// directories can be opened without side effects and are best named by
// descriptor; devices, FIFOs, sockets and symlinks cannot, and are named
// by directory and name.
type Node struct {
	fd      int // or -1
	dir     int
	name    string
	symlink bool
}

// File is the node open at fd, which is not an O_PATH descriptor.
func File(fd int) Node { return Node{fd: fd, dir: -1} }

// At is the node name in the directory dir (O_PATH will do); symlink says
// whether it is one.
func At(dir int, name string, symlink bool) Node {
	return Node{fd: -1, dir: dir, name: name, symlink: symlink}
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Meta is what Set restores.
type Meta struct {
	Uid, Gid int
	Mode     uint32 // permission bits with setuid, setgid and sticky (07777)
	Xattrs   []Xattr
}

// Skip reports whether the extended attribute name is one sdme does not
// restore: security.selinux labels belong to the policy of the machine
// that wrote them, and the host labels files by its own.
func Skip(name string) bool {
	return name == "security.selinux"
}

// Set restores the owner, then the mode (symlinks have none), then the
// extended attributes of n. Attributes that Skip names are ignored.
func Set(n Node, m *Meta) error {
	if err := chown(n, m.Uid, m.Gid); err != nil {
		return err
	}
	if !n.symlink {
		if err := chmod(n, m.Mode&07777); err != nil {
			return err
		}
	}
	for _, x := range m.Xattrs {
		if Skip(x.Name) {
			continue
		}
		if err := setxattr(n, x.Name, x.Value); err != nil {
			return fmt.Errorf("xattr %s: %w", x.Name, err)
		}
	}
	return nil
}

// SetTimes sets the access and modification times of n, with nanosecond
// precision.
func SetTimes(n Node, atime, mtime unix.Timespec) error {
	ts := [2]unix.Timespec{atime, mtime}
	if n.fd >= 0 {
		return futimens(n.fd, &ts)
	}
	return unix.UtimesNanoAt(n.dir, n.name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
}

func chown(n Node, uid, gid int) error {
	if n.fd >= 0 {
		return unix.Fchown(n.fd, uid, gid)
	}
	return unix.Fchownat(n.dir, n.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// chmod by name follows a symlink, but Set never calls it for one: the
// caller created the node and knows its type.
func chmod(n Node, mode uint32) error {
	if n.fd >= 0 {
		return unix.Fchmod(n.fd, mode)
	}
	return unix.Fchmodat(n.dir, n.name, mode, 0)
}

func setxattr(n Node, name string, value []byte) error {
	if n.fd >= 0 {
		return unix.Fsetxattr(n.fd, name, value, 0)
	}
	return unix.Lsetxattr(procPath(n), name, value, 0)
}

// procPath names n by path for the l*xattr calls, which have no *at form
// before Linux 6.13 (setxattrat) and cannot use an O_PATH descriptor.
// /proc/self/fd/DIR is a magic link to the very directory dir refers to,
// however it was reached, so the only name the kernel looks up is name,
// one component, and the l* calls do not follow it when it is a symlink.
// Going through a descriptor of the symlink itself would not work:
// lsetxattr(/proc/self/fd/LINK) acts on the magic link, not on the
// symlink it stands for.
func procPath(n Node) string {
	return "/proc/self/fd/" + strconv.Itoa(n.dir) + "/" + n.name
}

// futimens is utimensat(fd, NULL, ts, 0), which x/sys/unix does not
// offer: UtimesNanoAt always passes a path.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Xattrs reads the extended attributes of n, leaving out those Skip names.
func Xattrs(n Node) ([]Xattr, error) {
	var stack [512]byte
	list, err := readXattr(n, "", stack[:])
	if err != nil || len(list) == 0 {
		return nil, err
	}
	var xs []Xattr
	for len(list) > 0 {
		var name []byte
		name, list, _ = bytes.Cut(list, []byte{0})
		if len(name) == 0 || Skip(string(name)) {
			continue
		}
		x := Xattr{Name: string(name)}
		x.Value, err = readXattr(n, x.Name, nil)
		if err == unix.ENODATA {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("xattr %s: %w", x.Name, err)
		}
		xs = append(xs, x)
	}
	return xs, nil
}

// readXattr reads the value of the attribute name of n, or with name "",
// the list of its attributes' names. It reads into buf, or when buf is
// empty or too small, into a buffer of the size the kernel asks for.
func readXattr(n Node, name string, buf []byte) ([]byte, error) {
	for {
		if len(buf) > 0 {
			size, err := xattrCall(n, name, buf)
			if err == nil {
				return buf[:size], nil
			}
			if err != unix.ERANGE {
				return nil, err
			}
		}
		size, err := xattrCall(n, name, nil)
		if err != nil || size == 0 {
			return nil, err
		}
		buf = make([]byte, size)
	}
}

// xattrCall is getxattr, or listxattr when name is "", on n.
func xattrCall(n Node, name string, buf []byte) (int, error) {
	switch {
	case n.fd >= 0 && name == "":
		return unix.Flistxattr(n.fd, buf)
	case n.fd >= 0:
		return unix.Fgetxattr(n.fd, name, buf)
	case name == "":
		return unix.Llistxattr(procPath(n), buf)
	}
	return unix.Lgetxattr(procPath(n), name, buf)
}

// Names lists the directory open at fd (not O_PATH), without "." and "..".
func Names(fd int) ([]string, error) {
	var buf [8192]byte
	var names []string
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
