package mountinfo

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const table = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw shared:2 - proc proc rw
25 24 254:2 / /home/big\040disk rw shared:4 master:1 - ext4 /dev/vdc rw
garbage line
29 28 254:0 / /run/host/incoming rw - ext4 /dev/vda rw
`
	m, err := Parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 4 {
		t.Fatalf("parsed %d entries, want 4: %+v", len(m), m)
	}
	if m[2] != (Mount{Dev: "254:2", Point: "/home/big disk", FSType: "ext4"}) {
		t.Errorf("entry 2 = %+v, want the octal escape undone", m[2])
	}
	if m[3].Point != "/run/host/incoming" || m[3].FSType != "ext4" {
		t.Errorf("entry 3 = %+v (no optional fields)", m[3])
	}
}
