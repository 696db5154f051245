package containers

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/sdme/sdme/engine/mountinfo"
)

// mountsBelow lists the mount points at or below dir, deepest first.
func mountsBelow(dir string) ([]string, error) {
	all, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		if within(m.Point, dir) {
			out = append(out, m.Point)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// diskFilesystems are the filesystem types that hold data of their own.
// A host clone layers an overlay over each one mounted below /, since the
// overlay of / alone would show their mount points empty.
var diskFilesystems = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "btrfs": true, "xfs": true,
	"zfs": true, "f2fs": true, "bcachefs": true, "jfs": true, "reiserfs": true,
	"vfat": true, "exfat": true, "ntfs": true, "ntfs3": true,
}

// virtualTrees are never cloned: the container gets its own from nspawn and
// systemd, and /tmp and /var/tmp are scratch space.
var virtualTrees = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"}

// hostSubmounts picks the host filesystems below / that a host clone
// layers: disk filesystems, shallowest first, except virtual trees, sdme's
// own data directory, directories the container hides as opaque, and paths
// that overlayfs options cannot express.
func hostSubmounts(mounts []mountinfo.Mount, datadir string, opaque []string) []string {
	seen := map[string]bool{}
	var out []string
next:
	for _, m := range mounts {
		p := filepath.Clean(m.Point)
		if p == "/" || !diskFilesystems[m.FSType] || seen[p] || strings.ContainsAny(p, ",:\\\" \t\n") {
			continue
		}
		for _, d := range append(append([]string{datadir}, virtualTrees...), opaque...) {
			if within(p, d) {
				continue next
			}
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.Count(out[i], "/") < strings.Count(out[j], "/") })
	return out
}
