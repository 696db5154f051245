package sdme

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine/ociapp"
)

// ociExecCmd is what an OCI application's unit runs inside the
// application's root, bound there from the host: it runs the application
// as the image's user and ends as it ends (see ociapp.Run).
func (a *app) ociExecCmd() *cobra.Command {
	var o ociapp.ExecOptions
	var groups string
	cmd := &cobra.Command{
		Use:    "oci-exec [flags] -- COMMAND [ARG...]",
		Short:  "Run an OCI application's command as its user (run by its unit)",
		Hidden: true,
		Args:   cli.MinArgs(1, "oci-exec needs a command"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, g := range strings.Split(groups, ",") {
				if g == "" {
					continue
				}
				n, err := strconv.ParseUint(g, 10, 32)
				if err != nil {
					return cli.Usagef("--groups: %q is not a gid", g)
				}
				o.Groups = append(o.Groups, uint32(n))
			}
			o.Argv = args
			ws, err := ociapp.Run(o)
			if err == nil {
				if ws.Signaled() {
					// End as the application did, so that systemd sees a
					// clean SIGTERM where there was one. Only the signals
					// that end a Go process plainly once reset: the runtime
					// answers SIGABRT or SIGQUIT with a dump of its own and
					// ignores its own SIGPIPE; for those the unit counts
					// 128+N as it should (SuccessExitStatus=).
					switch sig := ws.Signal(); sig {
					case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGKILL:
						signal.Reset(sig)
						syscall.Kill(os.Getpid(), sig)
					}
					return cli.ExitStatus(128 + int(ws.Signal()))
				}
				return exitStatus(ws.ExitStatus())
			}
			// As a shell, and Docker, report a command they cannot run.
			fmt.Fprintf(a.stderr, "sdme oci-exec: %v\n", err)
			switch {
			case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
				return cli.ExitStatus(127)
			case errors.Is(err, fs.ErrPermission):
				return cli.ExitStatus(126)
			}
			return cli.ExitStatus(125)
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.Uint32Var(&o.UID, "uid", 0, "user id")
	f.Uint32Var(&o.GID, "gid", 0, "group id")
	f.StringVar(&groups, "groups", "", "supplementary group ids, comma-separated")
	f.StringVar(&o.WorkDir, "workdir", "/", "working directory")
	f.StringVar(&o.Home, "home", "/", "HOME, unless the environment sets it")
	return cmd
}
