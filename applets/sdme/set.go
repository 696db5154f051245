package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine/spec"
)

func (a *app) setCmd() *cobra.Command {
	var f limitFlags
	cmd := &cobra.Command{
		Use:   "set NAME [--memory SIZE] [--cpus N] [--cpu-weight W] [--tasks-max N]",
		Short: "Change a container's resource limits",
		Long: `Change the limits of a container; limits not named keep their value, and
none clears one. The limits are properties of the container's unit,
sdme@NAME.service (see systemctl show), kept for every start from now on.
On a running container they also apply at once, as with
'systemctl set-property --runtime'.`,
		Example: `  sudo sdme set mybox --memory 4G --cpus 2
  sudo sdme set mybox --memory none`,
		Args:              cli.RangeArgs(1, 1, "set takes one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := f.update(cmd)
			if err != nil {
				return err
			}
			if u == (spec.LimitsUpdate{}) {
				return cli.Usagef("set needs a limit to change: --memory, --cpus, --cpu-weight or --tasks-max (see '%s --help')", cmd.CommandPath())
			}
			name, err := a.resolve(args[0])
			if err != nil {
				return err
			}
			running, err := a.engine.SetLimits(cmd.Context(), name, u)
			if err != nil {
				return err
			}
			if running {
				a.note("'%s' is running: the new limits apply now", name)
			} else {
				a.note("the new limits of '%s' apply when it starts", name)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
