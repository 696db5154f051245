package spec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/layout"
)

// Network is how the container reaches the network. By default it shares
// the host's (docker run --net=host); Private gives it a network of its
// own with loopback only, to which a veth, a bridge or a zone add a link.
// A port forward needs a link: it implies a private network and a veth.
type Network struct {
	Private bool   `json:"privateNetwork,omitempty"`
	Veth    bool   `json:"networkVeth,omitempty"`
	Bridge  string `json:"networkBridge,omitempty"`
	Zone    string `json:"networkZone,omitempty"`
	Ports   []Port `json:"ports,omitempty"`
}

// Port forwards a host port to the container, as nspawn's --port does.
type Port struct {
	Protocol  string `json:"protocol"`
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
}

func (p Port) String() string {
	return fmt.Sprintf("%s:%d:%d", p.Protocol, p.Host, p.Container)
}

// ParsePort reads [PROTO:]HOST[:CONTAINER], as --port takes it; PROTO is
// tcp (the default) or udp, CONTAINER defaults to HOST.
func ParsePort(s string) (Port, error) {
	parts := strings.Split(s, ":")
	p := Port{Protocol: "tcp"}
	if parts[0] == "tcp" || parts[0] == "udp" {
		p.Protocol, parts = parts[0], parts[1:]
	}
	if len(parts) < 1 || len(parts) > 2 {
		return p, Invalid("port", s, "want [tcp:|udp:]HOST[:CONTAINER]")
	}
	var err error
	if p.Host, err = portNumber(parts[0]); err != nil {
		return p, Invalid("port", s, err.Error())
	}
	p.Container = p.Host
	if len(parts) == 2 {
		if p.Container, err = portNumber(parts[1]); err != nil {
			return p, Invalid("port", s, err.Error())
		}
	}
	return p, nil
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// link reports whether the private network gets a link to the host.
func (n *Network) link() bool {
	return n.Veth || n.Bridge != "" || n.Zone != "" || len(n.Ports) > 0
}

// hostNetwork reports whether the container shares the host's network.
func (n *Network) hostNetwork() bool { return !n.Private && !n.link() }

// check puts the options in their normal form, a forward or a link
// implying the private network it needs, and refuses what nspawn would
// refuse at start: both a bridge and a zone, a bridge that is not there,
// names no interface can have.
func (n *Network) check() error {
	// A bridge or a zone brings its own veth.
	n.Veth = (n.Veth || len(n.Ports) > 0) && n.Bridge == "" && n.Zone == ""
	if n.link() {
		n.Private = true
	}
	if n.Bridge != "" && n.Zone != "" {
		return Invalid("network-zone", n.Zone, "a container is on a bridge or in a zone, not both (--network-bridge "+n.Bridge+")")
	}
	if n.Bridge != "" {
		if !ifname(n.Bridge, 15) {
			return Invalid("network-bridge", n.Bridge, "not an interface name")
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", n.Bridge, "bridge")); err != nil {
			why := "no such bridge on this host"
			if !errors.Is(err, fs.ErrNotExist) {
				why = err.Error()
			}
			return Invalid("network-bridge", n.Bridge, why)
		}
	}
	// nspawn names the zone's bridge vz-ZONE: 12 characters are left.
	if n.Zone != "" && !ifname(n.Zone, 12) {
		return Invalid("network-zone", n.Zone, "at most 12 letters, digits, '-' and '_'")
	}
	seen := map[Port]bool{}
	for _, p := range n.Ports {
		key := Port{Protocol: p.Protocol, Host: p.Host}
		switch {
		case p.Protocol != "tcp" && p.Protocol != "udp":
			return Invalid("port", p.String(), "the protocol is tcp or udp")
		case p.Host == 0 || p.Container == 0:
			return Invalid("port", p.String(), "ports are 1-65535")
		case seen[key]:
			return Invalid("port", p.String(), fmt.Sprintf("host port %s:%d is forwarded twice", p.Protocol, p.Host))
		}
		seen[key] = true
	}
	return nil
}

// ifname reports whether s can name a network interface of at most max
// bytes (the kernel's limit is 15) without surprising anyone.
func ifname(s string, max int) bool {
	if s == "" || len(s) > max || strings.Trim(s, "0123456789") == "" {
		return false // all digits read as an interface index
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// plan says what check's normal form says, whether or not check ran.
func (n *Network) plan(in Input, p *Plan) error {
	if !n.hostNetwork() {
		p.Nspawn = append(p.Nspawn, "--private-network")
	}
	switch {
	case n.Bridge != "":
		p.Nspawn = append(p.Nspawn, "--network-bridge="+n.Bridge)
	case n.Zone != "":
		p.Nspawn = append(p.Nspawn, "--network-zone="+n.Zone)
	case n.Veth || len(n.Ports) > 0:
		p.Nspawn = append(p.Nspawn, "--network-veth")
	}
	for _, port := range n.Ports {
		p.Nspawn = append(p.Nspawn, "--port="+port.String())
	}
	if err := n.planLoopback(in, p); err != nil {
		return err
	}
	// With a link out the container needs name servers: the uplink's,
	// which resolved knows, else the host's own resolv.conf. (nspawn's
	// auto mode leaves a private network's resolv.conf alone.)
	if n.link() {
		mode := "copy-host"
		if in.HostResolved {
			mode = "copy-uplink"
		}
		p.Nspawn = append(p.Nspawn, "--resolv-conf="+mode)
	}
	return nil
}

// prepare sets the resolver policy of the network mode: on the host's
// network the host's own resolver already owns 127.0.0.53, and a second
// systemd-resolved would fight it for the address; with a network of its
// own the container may run its own. A link to the host needs its end in
// the container configured: systemd-networkd does that for host0 (its
// shipped 80-container-host0.network asks the host's networkd over DHCP),
// so it is enabled where the tree has it, as nspawn images usually do.
func (n *Network) prepare(_ context.Context, t Tree) error {
	if n.hostNetwork() {
		p := filepath.Join(t.Upper, systemUnits, "systemd-resolved.service")
		os.Remove(p)
		return os.Symlink("/dev/null", p)
	}
	if !n.link() {
		return nil
	}
	if t.hostClone() {
		// A clone's networkd would bring up the host's own networks,
		// devices and addresses (.netdev, .network) on its link.
		if err := mkdirLike(t, "/etc/systemd/network"); err != nil {
			return err
		}
		if err := unix.Setxattr(filepath.Join(t.Upper, "etc/systemd/network"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("make /etc/systemd/network opaque: %w", err)
		}
	}
	for _, unit := range []string{"/usr/lib/systemd/system/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"} {
		if fi, err := t.lowerStat(unit); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		wants := "/" + systemUnits + "/multi-user.target.wants"
		if err := mkdirLike(t, wants); err != nil {
			return err
		}
		p := filepath.Join(t.Upper, wants, "systemd-networkd.service")
		if err := os.Symlink(unit, p); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	}
	return nil
}

// planLoopback makes the forwards answer on the host's loopback
// addresses too, as docker run -p does: nspawn's forwarding rewrites
// packets to the host's addresses, which cannot reach 127.0.0.0/8. Once
// the container has booted, its unit starts a proxy (sdme ports-proxy) as
// a unit of its own, bound to the container's: it stops with it. It is
// not ordered after the container's unit, whose start job is the one
// running it. Its failure does not fail the boot: after the guest reboots
// (nspawn exits 133 and systemd restarts the unit) the proxy still runs
// and a second one cannot start; a loopback port the host already uses is
// said in the journal, and the forward answers on the host's addresses.
func (n *Network) planLoopback(in Input, p *Plan) error {
	var fw []string
	for _, port := range n.Ports {
		fw = append(fw, port.String())
	}
	if len(fw) == 0 {
		return nil
	}
	if in.Programs.Sdme == "" || in.Programs.SystemdRun == "" {
		return errors.New("port forwards: the paths of sdme and systemd-run are not known")
	}
	argv := []string{in.Programs.SystemdRun, "--quiet", "--collect", "--service-type=notify",
		"--unit=" + layout.PortsUnit(in.Name), "--property=BindsTo=" + layout.Unit(in.Name),
		"--", in.Programs.Sdme, "ports-proxy", in.Name}
	p.Post = append(p.Post, append(argv, fw...))
	return nil
}

// hostUnits: the host's end of a veth, and a zone's bridge, get their
// addresses, DHCP server and masquerading from the host's networkd (its
// shipped 80-container-ve.network and 80-container-vz.network). A bridge
// of the host's is the host's to configure.
func (n *Network) hostUnits(name string) []HostUnit {
	end := ""
	switch {
	case n.Bridge != "":
		return nil
	case n.Zone != "":
		end = "vz-" + n.Zone
	case n.Veth || len(n.Ports) > 0:
		end = "ve-" + name
		if len(end) > 15 {
			end = "ve-..., as nspawn shortens the name"
		}
	default:
		return nil
	}
	return []HostUnit{{"systemd-networkd.service",
		fmt.Sprintf("the host's end of the container's link (%s) gets no address, and the container none: start systemd-networkd, whose shipped 80-container-ve.network and 80-container-vz.network give the link an address, a DHCP server and masquerading, or configure the link yourself", end)}}
}

// The state keys are the original sdme's.
func (n *Network) encode(kv map[string]string) {
	flag := func(k string, on bool) {
		if on {
			kv[k] = "1"
		}
	}
	flag("PRIVATE_NETWORK", n.Private)
	flag("NETWORK_VETH", n.Veth)
	if n.Bridge != "" {
		kv["NETWORK_BRIDGE"] = n.Bridge
	}
	if n.Zone != "" {
		kv["NETWORK_ZONE"] = n.Zone
	}
	if len(n.Ports) > 0 {
		s := make([]string, len(n.Ports))
		for i, p := range n.Ports {
			s[i] = p.String()
		}
		kv["PORTS"] = strings.Join(s, ",")
	}
}

func (n *Network) decode(take func(string) string) error {
	// A value that is neither on nor off is damage, not "off": off would
	// start the container with less isolation than it was made with.
	var bad error
	on := func(k string) bool {
		switch take(k) {
		case "":
			return false
		case "1", "yes":
			return true
		}
		bad = fmt.Errorf("%s is neither 1, yes nor empty", k)
		return false
	}
	n.Private, n.Veth = on("PRIVATE_NETWORK"), on("NETWORK_VETH")
	if bad != nil {
		return bad
	}
	n.Bridge, n.Zone = take("NETWORK_BRIDGE"), take("NETWORK_ZONE")
	for _, s := range splitList(take("PORTS"), ",") {
		p, err := ParsePort(s)
		if err != nil {
			return errors.New("PORTS has an entry that is not a port forward")
		}
		n.Ports = append(n.Ports, p)
	}
	return nil
}
