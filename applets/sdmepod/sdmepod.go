// Package sdmepod is the sdme-pod applet, which is also `sdme pod`: pods
// are named network namespaces with loopback up that containers made with
// --pod=NAME share.
package sdmepod

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/pods"
)

// Main runs the sdme-pod applet and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := Command("sdme-pod", stdout, stderr)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return cli.Run(cmd, args, stderr)
}

type app struct {
	stdout, stderr io.Writer
	cli.Opener
}

func (a *app) store() (pods.Store, error) {
	e, err := a.Open()
	if err != nil {
		return pods.Store{}, err
	}
	return e.Pods()
}

// Command builds the pod commands under the name use ("pod" inside sdme,
// "sdme-pod" as an applet of its own).
func Command(use string, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	cmd := cli.Group(&cobra.Command{
		Use:   use,
		Short: "Manage pods: network namespaces that containers share",
		Long: `A pod is a named network namespace with loopback up. Containers made with
--pod=NAME share it: they reach each other on 127.0.0.1 and see neither
the host's network nor any other. A pod persists until it is removed; after
a reboot its namespace is made again when a container of the pod starts.`,
		Example: `  sudo sdme pod new web
  sudo sdme new --pod=web -r debian db
  sudo sdme new --pod=web -r debian app   # app reaches db on 127.0.0.1`,
		PersistentPostRun: func(*cobra.Command, []string) {
			a.Close()
		},
	})
	cmd.AddCommand(a.newCmd(), a.lsCmd(), a.rmCmd(), a.ensureCmd())
	return cmd
}

func (a *app) newCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "new NAME...",
		Short:   "Make pods",
		Long:    "Make pods: each a network namespace with loopback up, which containers join with --pod=NAME.",
		Example: "  sudo sdme pod new web",
		Args:    cli.MinArgs(1, "name the pod to make"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			return cli.Batch(cmd.Context(), a.stdout, a.stderr, "sdme", "pods", "created", args, nil, func(name string) error {
				_, err := s.Create(name)
				return err
			})
		},
	}
}

func (a *app) lsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List pods",
		Long:    "List the pods, whether their network namespace exists now (ACTIVE), and the containers in each. --json prints the same as a JSON array.",
		Example: "  sudo sdme pod ls\n  sudo sdme pod ls --json | jq -r '.[].name'",
		Args:    cli.MaxArgs(0, "pod ls takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			return cli.PrintList(a.stdout, asJSON, list, []string{"NAME", "ACTIVE", "CONTAINERS", "CREATED"}, func(p pods.Info) []string {
				cs := strings.Join(p.Containers, ",")
				if cs == "" {
					cs = "-"
				}
				return []string{p.Name, cli.YesNo(p.Active), cs, cli.When(p.Created)}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) rmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove pods",
		Long: `Remove pods. A pod that containers are in is kept, and the error names
them; with --force they are removed first (stopped if they run), as
'podman pod rm -f' does.`,
		Example:           "  sudo sdme pod rm web\n  sudo sdme pod rm -f web",
		Args:              cli.MinArgs(1, "name the pod to remove"),
		ValidArgsFunction: a.complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.Open()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return cli.Batch(ctx, a.stdout, a.stderr, "sdme", "pods", "removed", args, nil, func(name string) error {
				return e.RemovePod(ctx, name, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the pod's containers first")
	return cmd
}

// ensureCmd is what the unit of a container in a pod runs before nspawn:
// it makes the pod's network namespace if it is gone (after a reboot).
// It reads no configuration.
func (a *app) ensureCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "ensure NAME",
		Short:  "Make the pod's network namespace if it is missing (run by container units)",
		Hidden: true,
		Args:   cli.RangeArgs(1, 1, "name the pod"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return engine.EnsurePod(args[0])
		},
	}
}

func (a *app) complete(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	s, err := a.store()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, _ := s.List()
	var out []string
	for _, p := range list {
		if strings.HasPrefix(p.Name, toComplete) {
			out = append(out, p.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
