package engine

import (
	"net/netip"
	"testing"
)

func TestContainerAddr(t *testing.T) {
	p := netip.MustParseAddr
	for _, c := range []struct {
		in   []netip.Addr
		want string
	}{
		{[]netip.Addr{p("127.0.0.1"), p("fe80::1"), p("169.254.3.4"), p("fd00::5"), p("10.0.0.2")}, "10.0.0.2"},
		{[]netip.Addr{p("fe80::1"), p("fd00::5"), p("fd00::6")}, "fd00::5"},
		{[]netip.Addr{p("127.0.0.1"), p("fe80::1")}, ""},
	} {
		got, err := containerAddr(c.in)
		if (c.want == "" && err == nil) || (c.want != "" && got.String() != c.want) {
			t.Errorf("containerAddr(%v) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}
