// Package mountinfo reads the kernel's table of mounts,
// /proc/self/mountinfo.
package mountinfo

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mount is the part of a mountinfo line sdme uses.
type Mount struct {
	Dev    string // MAJ:MIN of the filesystem
	Point  string // where it is mounted
	FSType string
}

// Read returns the mounts of this process's mount namespace, in the
// kernel's order (a later mount on the same point is on top).
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads mountinfo lines:
//
//	ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 6; i+1 < len(f); i++ {
			if f[i] == "-" {
				out = append(out, Mount{Dev: f[2], Point: unescape(f[4]), FSType: f[i+1]})
				break
			}
		}
	}
	return out, sc.Err()
}

// unescape decodes the octal escapes of space, tab, newline and backslash
// (\040 and so on) in mount points.
func unescape(s string) string {
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

// Within reports whether path p is dir or lies below it.
func Within(p, dir string) bool {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
