package ociapp

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
)

// maxUserDB bounds the image's passwd and group files; a large site's are
// a few MiB.
const maxUserDB = 16 << 20

// entry is one line of a passwd or group file, split at ':'.
type entry []string

// readDB reads the colon-separated file rel of the tree at root, looked up
// inside the tree. A missing file is an empty one, as for Docker.
func readDB(root, rel string) ([]entry, error) {
	data, err := intree.ReadFile(root, rel, maxUserDB)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", rel, err)
	}
	var out []entry
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, nil
}

// resolveUser resolves an image's User ("", "name", "uid", "name:group",
// "uid:gid", ...) as Docker does: names in the image's own /etc/passwd
// and /etc/group, numbers as given; a numeric user missing from passwd
// gets group 0 and home /. The supplementary groups are those of
// /etc/group that list the user's name.
func resolveUser(root, user string) (uid, gid uint32, groups []uint32, home string, err error) {
	home = "/"
	if user == "" {
		return 0, 0, nil, "/root", nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	passwd, err := readDB(root, "etc/passwd")
	if err != nil {
		return 0, 0, nil, "", err
	}
	name := ""
	var found entry
	if n, ok := parseID(u); ok {
		uid = n
		for _, e := range passwd {
			if len(e) >= 7 && e[2] == u {
				found = e
				break
			}
		}
	} else {
		for _, e := range passwd {
			if len(e) >= 7 && e[0] == u {
				found = e
				break
			}
		}
		if found == nil {
			return 0, 0, nil, "", fmt.Errorf("user %q is not in the image's /etc/passwd: %w", u, errdefs.ErrUnsupported)
		}
		n, ok := parseID(found[2])
		if !ok {
			return 0, 0, nil, "", fmt.Errorf("user %q has the uid %q in the image's /etc/passwd: %w", u, found[2], errdefs.ErrCorrupt)
		}
		uid = n
	}
	if found != nil {
		name, home = found[0], found[5]
		if home == "" || badText(home) || !strings.HasPrefix(home, "/") {
			home = "/"
		}
		n, ok := parseID(found[3])
		if !ok {
			return 0, 0, nil, "", fmt.Errorf("user %q has the gid %q in the image's /etc/passwd: %w", u, found[3], errdefs.ErrCorrupt)
		}
		gid = n
	}
	group, err := readDB(root, "etc/group")
	if err != nil {
		return 0, 0, nil, "", err
	}
	if hasGroup {
		if n, ok := parseID(g); ok {
			gid = n
		} else {
			var ge entry
			for _, e := range group {
				if len(e) >= 3 && e[0] == g {
					ge = e
					break
				}
			}
			if ge == nil {
				return 0, 0, nil, "", fmt.Errorf("group %q is not in the image's /etc/group: %w", g, errdefs.ErrUnsupported)
			}
			if gid, ok = parseID(ge[2]); !ok {
				return 0, 0, nil, "", fmt.Errorf("group %q has the gid %q in the image's /etc/group: %w", g, ge[2], errdefs.ErrCorrupt)
			}
		}
	}
	if name != "" {
		seen := map[uint32]bool{gid: true}
		for _, e := range group {
			if len(e) < 4 {
				continue
			}
			n, ok := parseID(e[2])
			if !ok || seen[n] {
				continue
			}
			for _, m := range strings.Split(e[3], ",") {
				if m == name {
					groups = append(groups, n)
					seen[n] = true
					break
				}
			}
		}
	}
	return uid, gid, groups, home, nil
}

// parseID reads a uid or gid; 2^32-1 is "no id" to the kernel.
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}
