// Package sdme is the sdme applet: the command line for containers and
// their configuration. Every command parses its flags, calls the engine and
// renders the result; the work itself is in engine/.
//
// Output: progress notes go to stderr, resulting names to stdout, so that
// scripts can capture them. See package cli for exit codes.
package sdme

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/applets/sdmepod"
	"github.com/sdme/sdme/engine/containers"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/state"
)

// Main runs the sdme applet and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.Run(Command(stdin, stdout, stderr), args, stderr)
}

// app is the state one invocation shares between its commands.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cli.Opener                        // the engine, opened once
	engine         *containers.Engine // its containers, once load checked for root
}

// load opens the engine and takes its containers, once.
func (a *app) load() error {
	if a.engine != nil {
		return nil
	}
	e, err := a.Open()
	if err != nil {
		return err
	}
	a.engine, err = e.Containers()
	return err
}

func (a *app) note(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

// warn shows what the engine says will not work as asked, as
// sdme-import shows an import's warnings.
func (a *app) warn(warnings []string) {
	for _, w := range warnings {
		a.note("warning: %s", w)
	}
}

// Command builds the sdme command tree.
func Command(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := cli.Group(&cobra.Command{
		Use:   "sdme",
		Short: "Lightweight systemd-nspawn containers with overlayfs",
		Long: `sdme manages containers that boot a full systemd, each an ordinary systemd
service (sdme@NAME.service) running systemd-nspawn over an overlayfs.
By default a container is a copy-on-write clone of the host's /: the host
is the read-only lower layer and every write lands in the container's own
upper layer.

sdme needs root: run it with sudo.`,
		Example: `  sudo sdme new                 # clone /, boot it and log in
  sudo sdme create mybox        # create a container
  sudo sdme start mybox         # boot it
  sudo sdme exec mybox -- ls /  # run a command inside
  sudo sdme ps                  # list containers`,
		Version: version,
		PersistentPostRun: func(*cobra.Command, []string) {
			a.Close()
		},
	})
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddGroup(&cobra.Group{ID: "containers", Title: "Containers:"}, &cobra.Group{ID: "other", Title: "Other:"})
	for _, c := range []*cobra.Command{
		a.newCmd(), a.createCmd(), a.startCmd(), a.stopCmd(), a.restartCmd(), a.rmCmd(), a.setCmd(),
		a.enableCmd(true), a.enableCmd(false), a.psCmd(), a.joinCmd(), a.execCmd(), a.logsCmd(),
	} {
		c.GroupID = "containers"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "fs", Title: "Root filesystems:"})
	fs := a.fsCmd()
	fs.GroupID = "fs"
	root.AddCommand(fs)
	root.AddGroup(&cobra.Group{ID: "pods", Title: "Pods:"})
	pod := sdmepod.Command("pod", stdout, stderr)
	pod.GroupID = "pods"
	root.AddCommand(pod)
	for _, c := range []*cobra.Command{a.configCmd(), a.varlinkCmd(), a.portsProxyCmd(), a.ociExecCmd()} {
		c.GroupID = "other"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	// cobra adds its completion command only when it runs, with validators
	// whose errors are untyped: add it now and give it ours.
	root.InitDefaultCompletionCmd()
	completion, _, _ := root.Find([]string{"completion"})
	cli.Group(completion)
	for _, c := range completion.Commands() {
		c.Args = cli.MaxArgs(0, "completion "+c.Name()+" takes no arguments")
	}
	return root
}

// version is set at build time with -ldflags "-X ...sdme.version=...".
var version = "dev"

// resolve turns a name or unique prefix into a container name.
func (a *app) resolve(arg string) (string, error) {
	if err := a.load(); err != nil {
		return "", err
	}
	return a.engine.Resolve(arg)
}

// completeNames offers existing container names for shell completion.
func (a *app) completeNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if err := a.load(); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	e, _ := a.Open() // load succeeded
	names, _ := state.Names(layout.Layout{Datadir: e.Config().Datadir}.StateDir())
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// batch runs fn for every name argument at once, after resolving prefixes
// (see cli.Batch).
func (a *app) batch(cmd *cobra.Command, names []string, verb, pastTense string, fn func(ctx context.Context, name string) error) error {
	if err := a.load(); err != nil {
		return err
	}
	ctx := cmd.Context()
	resolve := func(arg string) (string, error) {
		name, err := a.engine.Resolve(arg)
		if err == nil {
			a.note("%s '%s'", verb, name)
		}
		return name, err
	}
	return cli.Batch(ctx, a.stdout, a.stderr, "sdme", "containers", pastTense, names, resolve, func(name string) error {
		err := fn(ctx, name)
		// Side by side, a failure is no longer next to the note that named
		// its container: it must name it itself.
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(name)) {
			err = fmt.Errorf("container %q: %w", name, err)
		}
		return err
	})
}

func timeoutFlag(cmd *cobra.Command, p *cli.Duration, what string) {
	cmd.Flags().VarP(p, "timeout", "t", what+" (seconds, or a duration such as 2m)")
}
