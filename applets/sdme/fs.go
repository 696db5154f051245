package sdme

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/applets/sdmeimport"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
)

func (a *app) fsCmd() *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "fs",
		Short: "Manage imported root filesystems",
		Long: `Root filesystems are the read-only lower layers containers are made of
(sdme new -r NAME). Import them from other distributions' images, disk
images, tarballs or directories.`,
	})
	cmd.AddCommand(sdmeimport.Command("import", a.stdout, a.stderr), a.fsBuildCmd(), a.fsLsCmd(), a.fsRmCmd())
	return cmd
}

// store opens the rootfs store of the configured data directory.
func (a *app) store() (rootfs.Store, error) {
	e, err := a.Open()
	if err != nil {
		return rootfs.Store{}, err
	}
	return e.Rootfs()
}

func (a *app) fsLsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List imported root filesystems",
		Long:    "List the imported root filesystems. BASE is the rootfs an OCI application runs on, and SIZE an application's own, without its base. --json prints the same fields as a JSON array, with the containers built on each and each application's configuration.",
		Example: "  sudo sdme fs ls\n  sudo sdme fs ls --json | jq -r '.[].name'",
		Args:    cli.MaxArgs(0, "fs ls takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			return cli.PrintList(a.stdout, asJSON, list, []string{"NAME", "DISTRO", "BASE", "SOURCE", "SIZE", "CREATED"}, func(r rootfs.Info) []string {
				return []string{r.Name, orDash(r.Distro), orDash(r.Base), orDash(r.Source), progress.HumanBytes(r.Size), cli.When(r.Created)}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) fsRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "rm NAME...",
		Short:             "Remove imported root filesystems",
		Long:              "Remove root filesystems. A rootfs that a container is built on is kept; remove the container first. A base goes only with, or after, the applications built on it; named together, they are removed first.",
		Example:           "  sudo sdme fs rm ubuntu",
		Args:              cli.MinArgs(1, "name the rootfs to remove"),
		ValidArgsFunction: a.completeRootfs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			// An application goes before its base, whose removal is
			// refused while an application names it.
			return cli.BatchAfter(cmd.Context(), a.stdout, a.stderr, "sdme", "root filesystems", "removed", args, nil, s.Apps, s.Remove)
		},
	}
}

// completeRootfs offers imported rootfs names for shell completion.
func (a *app) completeRootfs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	s, err := a.store()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, _ := s.List()
	var out []string
	for _, r := range list {
		if strings.HasPrefix(r.Name, toComplete) {
			out = append(out, r.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
