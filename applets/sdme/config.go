package sdme

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine/config"
)

func (a *app) configCmd() *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "config",
		Short: "Show and change settings",
		Long: `Show and change sdme's settings, kept in ~/.config/sdme/sdmerc (TOML).
Under sudo, $SUDO_USER's file is used when it exists.`,
	})
	var asJSON bool
	get := &cobra.Command{
		Use:   "get [KEY]",
		Short: "Show settings",
		Long:  "Show every setting as key = value, or the value of one KEY.\n\nKeys:\n" + keyList(),
		Example: `  sdme config get
  sdme config get boot_timeout
  sdme config get --json`,
		Args: cli.MaxArgs(1, "config get takes at most one KEY"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return config.Keys(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.Open()
			if err != nil {
				return err
			}
			cfg := e.Config()
			if len(args) == 1 {
				v, err := cfg.Get(args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(a.stdout).Encode(v)
				}
				fmt.Fprintln(a.stdout, v)
				return nil
			}
			if asJSON {
				return cli.PrintJSON(a.stdout, cfg)
			}
			for _, k := range config.Keys() {
				v, _ := cfg.Get(k)
				fmt.Fprintf(a.stdout, "%s = %v\n", k, v)
			}
			return nil
		},
	}
	get.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change a setting",
		Long:  "Change one setting. Unknown keys and values of the wrong type are refused.\n\nKeys:\n" + keyList(),
		Example: `  sudo sdme config set boot_timeout 120
  sudo sdme config set host_rootfs_opaque_dirs /etc/systemd/system,/var/log
  sudo sdme config set join_as_sudo_user false`,
		Args: cli.RangeArgs(2, 2, "config set needs a KEY and a VALUE"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return config.Keys(), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := config.Path()
			cfg, err := config.SetInFile(path, args[0], args[1])
			if err != nil {
				return err
			}
			v, _ := cfg.Get(args[0])
			a.note("%s = %v (in %s)", args[0], v, path)
			return nil
		},
	}
	cmd.AddCommand(get, set)
	return cmd
}

func keyList() string {
	s := ""
	for _, k := range config.Keys() {
		s += fmt.Sprintf("  %-24s %s\n", k, config.Doc(k))
	}
	return s
}
