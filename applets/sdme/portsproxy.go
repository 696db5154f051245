package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/spec"
)

// portsProxyCmd is what a container's unit starts, as a unit of its own,
// once the container has booted: it makes the container's forwards
// answer on the host's loopback addresses too (see engine.ForwardLoopback).
// It runs until systemd stops it with the container.
func (a *app) portsProxyCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "ports-proxy NAME PORT...",
		Short:  "Forward a container's ports on the host's loopback addresses (run by its unit)",
		Hidden: true,
		Args:   cli.MinArgs(2, "ports-proxy takes a NAME and its ports"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ports []spec.Port
			for _, s := range args[1:] {
				p, err := spec.ParsePort(s)
				if err != nil {
					return err
				}
				ports = append(ports, p)
			}
			return engine.ForwardLoopback(cmd.Context(), args[0], ports)
		},
	}
}
