package sdme

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine/containers"
)

func (a *app) newCmd() *cobra.Command {
	f := newSpecFlags()
	var timeout cli.Duration
	var user string
	cmd := &cobra.Command{
		Use:   "new [NAME] [-- COMMAND...]",
		Short: "Create, start and join a container",
		Long: `Create a container, boot it and log in: create, start and join in one.
Without NAME, a pronounceable name is made up. Without COMMAND, you get a
login shell; on a host clone, as $SUDO_USER when join_as_sudo_user is set.

If the container fails to boot, it is removed again. Once it has booted it
is kept, whatever the shell's exit status; sdme exits with that status.`,
		Example: `  sudo sdme new
  sudo sdme new mybox
  sudo sdme new mybox -- systemctl status`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n > 1 || (n < 0 && len(args) > 1) {
				return cli.Usagef("new takes at most one NAME; put the command after --: sdme new NAME -- COMMAND")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, argv := splitDash(cmd, args)
			sp, err := f.spec(cmd)
			if err != nil {
				return err
			}
			opts := containers.CreateOptions{Name: name, Spec: sp}
			if err := a.load(); err != nil {
				return err
			}
			c, err := a.engine.CreateAndStart(cmd.Context(), opts, time.Duration(timeout), func(step, n string) {
				a.note("%s '%s'", step, n)
			})
			if err != nil {
				return err
			}
			a.warn(c.Warnings)
			name = c.Name
			fmt.Fprintln(a.stdout, name)
			a.note("joining '%s'", name)
			return a.join(cmd.Context(), name, user, argv)
		},
	}
	f.register(cmd)
	timeoutFlag(cmd, &timeout, "how long to wait for the boot (default: config boot_timeout)")
	cmd.Flags().StringVarP(&user, "user", "u", "", "log in as `USER` (default: root, or $SUDO_USER on a host clone)")
	return cmd
}

// splitDash separates [NAME] from the command after "--".
func splitDash(cmd *cobra.Command, args []string) (name string, argv []string) {
	dash := cmd.ArgsLenAtDash()
	if dash < 0 {
		dash = len(args)
	}
	if dash > 0 {
		name = args[0]
	}
	return name, args[dash:]
}

func (a *app) createCmd() *cobra.Command {
	f := newSpecFlags()
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create a container",
		Long: `Create a stopped container. Without NAME, a pronounceable name is made up.
The name is printed on stdout.

Names start with a letter (a-z) and continue with a-z, 0-9 and '-', at most
64 characters. By default the container is a clone of the host's /; the
directories in host_rootfs_opaque_dirs (or given with -o) start out empty.

Binds (-b) show host paths inside the container; on a host clone, the
host's own directory rather than the container's copy. Variables (-e) are
set for the container's init. Limits are properties of the container's
unit, sdme@NAME.service; 'sdme set' changes them later.`,
		Example: `  sudo sdme create mybox
  sudo sdme create mybox -o /etc/systemd/system,/var/log,/srv
  sudo sdme create mybox -r debian --memory 2G --cpus 0.5
  sudo sdme create mybox -r debian -b /srv/data:/data -b /var/log/app:/var/log/app:ro -e MY_VAR=hello`,
		Args: cli.MaxArgs(1, "create takes at most one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			sp, err := f.spec(cmd)
			if err != nil {
				return err
			}
			if err := a.load(); err != nil {
				return err
			}
			c, err := a.engine.Create(cmd.Context(), containers.CreateOptions{Name: name, Spec: sp})
			if err != nil {
				return err
			}
			a.note("creating '%s'", c.Name)
			a.warn(c.Warnings)
			fmt.Fprintln(a.stdout, c.Name)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) startCmd() *cobra.Command {
	var timeout cli.Duration
	cmd := &cobra.Command{
		Use:   "start NAME...",
		Short: "Boot containers",
		Long: `Boot each container and wait until its systemd reports it is up. A name may
be a unique prefix. If a container does not boot within the timeout, or
exits while booting, it is stopped and the last lines of its log are shown.

Several containers boot side by side. Each is reported in the order given,
once the ones before it are: its name on stdout, or its error on stderr.`,
		Example:           "  sudo sdme start mybox\n  sudo sdme start -t 120 web db",
		Args:              cli.MinArgs(1, "start needs at least one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.batch(cmd, args, "starting", "started", func(ctx context.Context, name string) error {
				if err := a.engine.Start(ctx, name, time.Duration(timeout)); err != nil {
					return err
				}
				a.warn(a.engine.HostWarnings(ctx, name))
				return nil
			})
		},
	}
	timeoutFlag(cmd, &timeout, "how long to wait for the boot (default: config boot_timeout)")
	return cmd
}

// stopFlags select how to stop, shared by stop and restart.
type stopFlags struct {
	term, kill bool
	timeout    cli.Duration
}

func (f *stopFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.term, "term", false, "terminate through machined instead of halting the guest")
	cmd.Flags().BoolVar(&f.kill, "kill", false, "kill every process of the container with SIGKILL")
	timeoutFlag(cmd, &f.timeout, "how long to wait for the container to stop (default 90s, 30s with --term, 15s with --kill)")
}

// mode returns the stop mode and timeout (0: the mode's default).
func (f *stopFlags) mode() (containers.StopMode, time.Duration, error) {
	mode := containers.StopGraceful
	switch {
	case f.term && f.kill:
		// Checked here rather than with cobra's MarkFlagsMutuallyExclusive,
		// whose error is untyped and would exit 1.
		return mode, 0, cli.Usagef("--term and --kill contradict each other")
	case f.term:
		mode = containers.StopTerminate
	case f.kill:
		mode = containers.StopKill
	}
	return mode, time.Duration(f.timeout), nil
}

func (a *app) stopCmd() *cobra.Command {
	var f stopFlags
	cmd := &cobra.Command{
		Use:   "stop NAME...",
		Short: "Stop containers",
		Long: `Stop each container and wait until it is down and its overlay unmounted.
By default the guest is halted cleanly: its init gets SIGRTMIN+3, as from
systemd-nspawn on SIGTERM. --term asks machined to terminate the machine;
--kill sends SIGKILL to all of its processes. Stopping a stopped container
does nothing. Several containers stop side by side, reported as start does.`,
		Example:           "  sudo sdme stop mybox\n  sudo sdme stop --kill web db",
		Args:              cli.MinArgs(1, "stop needs at least one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, t, err := f.mode()
			if err != nil {
				return err
			}
			return a.batch(cmd, args, "stopping", "stopped", func(ctx context.Context, name string) error {
				return a.engine.Stop(ctx, name, mode, t)
			})
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) restartCmd() *cobra.Command {
	var f stopFlags
	var boot cli.Duration
	cmd := &cobra.Command{
		Use:   "restart NAME...",
		Short: "Stop and start containers again",
		Long: `Stop each container as stop does and boot it again as start does. Several
containers restart side by side, reported as start does.`,
		Example:           "  sudo sdme restart mybox",
		Args:              cli.MinArgs(1, "restart needs at least one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, t, err := f.mode()
			if err != nil {
				return err
			}
			return a.batch(cmd, args, "restarting", "restarted", func(ctx context.Context, name string) error {
				return a.engine.Restart(ctx, name, mode, t, time.Duration(boot))
			})
		},
	}
	f.register(cmd)
	cmd.Flags().Var(&boot, "boot-timeout", "how long to wait for the boot (default: config boot_timeout)")
	return cmd
}

func (a *app) rmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove containers",
		Long: `Remove each container with its files and unit. A running container is
stopped first, cleanly; with -f it is killed. rm also cleans up a container
whose creation was interrupted.`,
		Example:           "  sudo sdme rm mybox\n  sudo sdme rm -f web db",
		Args:              cli.MinArgs(1, "rm needs at least one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.batch(cmd, args, "removing", "removed", func(ctx context.Context, name string) error {
				return a.engine.Remove(ctx, name, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container instead of stopping it cleanly")
	return cmd
}

func (a *app) enableCmd(on bool) *cobra.Command {
	verb, short, past, doing := "enable", "Start containers at boot", "enabled", "enabling"
	if !on {
		verb, short, past, doing = "disable", "Do not start containers at boot", "disabled", "disabling"
	}
	return &cobra.Command{
		Use:               verb + " NAME...",
		Short:             short,
		Long:              short + ", with machines.target. This does not start or stop them now.",
		Example:           "  sudo sdme " + verb + " mybox",
		Args:              cli.MinArgs(1, verb+" needs at least one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.batch(cmd, args, doing, past, func(ctx context.Context, name string) error {
				if on {
					return a.engine.Enable(ctx, name)
				}
				return a.engine.Disable(ctx, name)
			})
		},
	}
}

func (a *app) psCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ps",
		Short:   "List containers",
		Long:    "List all containers with their state. --json prints the same fields as a JSON array.",
		Example: "  sudo sdme ps\n  sudo sdme ps --json | jq -r '.[].name'",
		Args:    cli.MaxArgs(0, "ps takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(); err != nil {
				return err
			}
			list, err := a.engine.List(cmd.Context())
			if err != nil {
				return err
			}
			return cli.PrintList(a.stdout, asJSON, list, []string{"NAME", "STATE", "ROOTFS", "CREATED", "ENABLED"}, func(c containers.Info) []string {
				rootfs := c.Rootfs
				switch {
				case rootfs == "":
					rootfs = "/ (host)"
				case c.OCIApp:
					rootfs += " (app)"
				}
				return []string{c.Name, c.State, rootfs, cli.When(c.Created), cli.YesNo(c.Enabled)}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) joinCmd() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "join NAME [COMMAND...]",
		Short: "Log in to a running container",
		Long: `Open a login shell in a running container, or run COMMAND in a login
session. On a terminal this is machinectl shell; without one (in a pipe or
a script), the shell or command runs with stdin and stdout piped through.
On a host clone the default user is $SUDO_USER when join_as_sudo_user is
set and that user exists in the container; otherwise root.
sdme exits with the session's exit status.`,
		Example:           "  sudo sdme join mybox\n  sudo sdme join mybox /bin/bash -l\n  echo hostname | sudo sdme join mybox",
		Args:              cli.MinArgs(1, "join needs a NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.resolve(args[0])
			if err != nil {
				return err
			}
			return a.join(cmd.Context(), name, user, args[1:])
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&user, "user", "u", "", "log in as `USER`")
	return cmd
}

func (a *app) join(ctx context.Context, name, user string, argv []string) error {
	opts := containers.JoinOptions{
		User:     user,
		SudoUser: os.Getenv("SUDO_USER"),
		Argv:     argv,
		TTY:      cli.IsTerminal(a.stdin) && cli.IsTerminal(a.stdout),
	}
	if u := a.engine.JoinUser(name, opts); u != "root" {
		a.note("host clone: joining as '%s' (join_as_sudo_user)", u)
	}
	status, err := a.engine.Join(ctx, name, opts, containers.Stdio{In: a.stdin, Out: a.stdout, Err: a.stderr})
	if err != nil {
		return err
	}
	return exitStatus(status)
}

func exitStatus(status int) error {
	if status != 0 {
		return cli.ExitStatus(status)
	}
	return nil
}

func (a *app) execCmd() *cobra.Command {
	var user string
	var oci bool
	cmd := &cobra.Command{
		Use:   "exec NAME [--oci] [--] COMMAND...",
		Short: "Run a command in a running container",
		Long: `Run COMMAND in a running container as a transient unit of its systemd, with
stdin, stdout and stderr piped through. sdme exits with COMMAND's status.
There is no login session: no profile is read.

With --oci, COMMAND runs in the container's OCI application instead: in the
application's root, as its user, with its environment and network.`,
		Example:           "  sudo sdme exec mybox cat /etc/os-release\n  sudo sdme exec mybox -- ls -la /\n  tar c dir | sudo sdme exec mybox -- tar x -C /srv\n  sudo sdme exec web --oci id",
		Args:              cli.MinArgs(2, "exec needs a NAME and a COMMAND"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.resolve(args[0])
			if err != nil {
				return err
			}
			argv := args[1:]
			// Flags stop at NAME, so that the command's own are its own;
			// --oci may still come right after it.
			if len(argv) > 0 && argv[0] == "--oci" {
				oci, argv = true, argv[1:]
			}
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return cli.Usagef("exec needs a COMMAND")
			}
			io := containers.Stdio{In: a.stdin, Out: a.stdout, Err: a.stderr}
			if oci && user != "" {
				return cli.Usagef("--oci runs the command as the application's user; --user does not go with it")
			}
			var status int
			if oci {
				status, err = a.engine.ExecApp(cmd.Context(), name, argv, io)
			} else {
				status, err = a.engine.Exec(cmd.Context(), name, argv, user, io)
			}
			if err != nil {
				return err
			}
			return exitStatus(status)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&user, "user", "u", "", "run as `USER` (default root)")
	cmd.Flags().BoolVar(&oci, "oci", false, "run COMMAND in the container's OCI application, as its user")
	return cmd
}

func (a *app) logsCmd() *cobra.Command {
	var follow, oci bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show a container's log",
		Long: `Show the journal of the container's unit: systemd-nspawn's messages and the
guest's console, from boot to shutdown. Works on stopped containers too.

With --oci, show the log of the container's OCI application (its service
sdme-oci-app.service in the container's journal).`,
		Example:           "  sudo sdme logs mybox\n  sudo sdme logs mybox -f\n  sudo sdme logs mybox -n 50\n  sudo sdme logs web --oci -f",
		Args:              cli.RangeArgs(1, 1, "logs needs one NAME"),
		ValidArgsFunction: a.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.resolve(args[0])
			if err != nil {
				return err
			}
			io := containers.Stdio{In: a.stdin, Out: a.stdout, Err: a.stderr}
			if oci {
				return a.engine.AppLogs(cmd.Context(), name, follow, lines, io)
			}
			return a.engine.Logs(cmd.Context(), name, follow, lines, io)
		},
	}
	cmd.Flags().BoolVar(&oci, "oci", false, "show the log of the container's OCI application")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&lines, "lines", "n", -1, "show only the last `N` lines")
	return cmd
}
