package containers

import (
	"sort"

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
		if mountinfo.Within(m.Point, dir) {
			out = append(out, m.Point)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}
