package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/mountinfo"
)

const table = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw shared:2 - proc proc rw
24 22 254:1 / /home rw shared:3 - xfs /dev/vdb rw
25 24 254:2 / /home/big\040disk rw shared:4 - ext4 /dev/vdc rw
26 22 254:3 / /var rw shared:5 - btrfs /dev/vdd rw
27 26 254:3 /lib /var/lib/sdme rw shared:5 - btrfs /dev/vdd rw
28 22 0:30 / /run rw shared:6 - tmpfs tmpfs rw
29 28 254:0 / /run/host/incoming rw - ext4 /dev/vda rw
30 22 254:4 / /boot/efi rw shared:7 - vfat /dev/vde rw
31 22 254:5 / /srv/a,b rw shared:8 - ext4 /dev/vdf rw
32 22 254:6 / /var/log rw shared:9 - ext4 /dev/vdg rw
33 22 254:7 / /boot rw shared:10 - ext4 /dev/vdh rw
`

func TestHostSubmounts(t *testing.T) {
	all, err := mountinfo.Parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	got := hostSubmounts(all, "/var/lib/sdme", []string{"/var/log"})
	// Not: / itself, /proc and /run (virtual), the data directory, an
	// opaque directory, a path overlayfs options cannot hold (comma, space).
	want := []string{"/home", "/var", "/boot", "/boot/efi"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hostSubmounts = %v, want %v", got, want)
	}
}
