package containers

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Point  string
	FSType string
}

// parseMountinfo reads the mount point and filesystem type of every mount.
// Mount points are octal-escaped there (a space is \040).
func parseMountinfo(data string) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		out = append(out, mountEntry{Point: unescapeOctal(f[4]), FSType: f[sep+1]})
	}
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readMountinfo() ([]mountEntry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountinfo(string(data)), nil
}

// mountsBelow lists the mount points at or below dir, deepest first.
func mountsBelow(dir string) ([]string, error) {
	all, err := readMountinfo()
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
func hostSubmounts(mounts []mountEntry, datadir string, opaque []string) []string {
	seen := map[string]bool{}
	var out []string
next:
	for _, m := range mounts {
		p := filepath.Clean(m.Point)
		if p == "/" || !diskFilesystems[m.FSType] || seen[p] || strings.ContainsAny(p, ",:\\ \t\n") {
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
