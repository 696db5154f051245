package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// networkFlags choose the container's network: the host's by default.
type networkFlags struct {
	private, veth bool
	bridge, zone  string
	ports         []string
}

func (f *networkFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.private, "private-network", false, "give the container a network of its own, loopback only unless a link is added")
	fl.BoolVar(&f.veth, "network-veth", false, "link the private network to the host with a veth pair (ve-NAME on the host)")
	fl.StringVar(&f.bridge, "network-bridge", "", "link the private network to the host's bridge `BRIDGE`")
	fl.StringVar(&f.zone, "network-zone", "", "link the private network to the bridge vz-`ZONE`, shared with the zone's other containers")
	fl.StringArrayVarP(&f.ports, "port", "p", nil, "forward `[PROTO:]HOST[:CONTAINER]` ports to the container (repeatable; implies a veth)")
}

func (f *networkFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	s.Network = spec.Network{Private: f.private, Veth: f.veth, Bridge: f.bridge, Zone: f.zone}
	for _, v := range f.ports {
		p, err := spec.ParsePort(v)
		if err != nil {
			return err
		}
		s.Ports = append(s.Ports, p)
	}
	return nil
}
