package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/varlink"
)

func (a *app) varlinkCmd() *cobra.Command {
	var opts varlink.Options
	cmd := &cobra.Command{
		Use:   "varlink",
		Short: "Serve the io.sdme varlink interface",
		Long: `Serve io.sdme, sdme's varlink interface, on ` + varlink.DefaultAddress + `.

Normally systemd starts this from sdme.socket when a client connects, and it
exits again after it has been idle for a while. Run it by hand to debug, or
use another socket path with --address. Talk to it with varlinkctl:

  varlinkctl introspect ` + varlink.DefaultAddress + `
  varlinkctl call --more ` + varlink.DefaultAddress + ` io.sdme.List '{}'`,
		Args: cli.MaxArgs(0, "varlink takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version = version
			return varlink.Serve(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Address, "address", varlink.DefaultAddress, "unix socket path to listen on when not started by systemd")
	cmd.Flags().DurationVar(&opts.IdleTimeout, "idle-timeout", 0, "exit after this long without clients (0: never)")
	cmd.Flags().IntVar(&opts.MaxConnections, "max-connections", varlink.DefaultMaxConnections, "clients served at once; a quarter is kept for root")
	cmd.Flags().DurationVar(&opts.ClientIdleTimeout, "client-idle-timeout", varlink.DefaultClientIdleTimeout, "close a connection of a user other than root after this long without a call")
	return cmd
}
