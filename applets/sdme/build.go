package sdme

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine/build"
	"github.com/sdme/sdme/engine/printable"
	"github.com/sdme/sdme/engine/progress"
)

func (a *app) fsBuildCmd() *cobra.Command {
	var opts build.Options
	var quiet bool
	cmd := &cobra.Command{
		Use:   "build NAME FILE",
		Short: "Build a root filesystem from a build file",
		Long: `Build rootfs NAME from the steps of FILE, a small Dockerfile:

  FROM debian               the rootfs to start from (required, first)
  RUN apt-get install -y nginx && systemctl enable nginx
                            a command, run in the booted rootfs
  COPY site/ /var/www/      files of the build context (FILE's directory),
                            owned by root; globs and directories
  ENV DEBIAN_FRONTEND=noninteractive
                            the environment of the RUN steps after it
  WORKDIR /srv              the directory of later RUN steps and relative
                            COPY destinations (made if missing)

Lines starting with # are comments; a line ending in \ continues on the
next. Each step's result is kept as a layer: a build that starts the same
way as an earlier one reuses its layers, so a build that failed resumes
after the last step that worked. The output of each step streams as it
runs; with -q only a failure and its output are shown.`,
		Example: `  sudo sdme fs build web ./build.conf
  sudo sdme fs build web ./build.conf --no-cache`,
		Args: cli.RangeArgs(2, 2, "build needs a NAME and a build FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.File = args[0], args[1]
			e, err := a.Open()
			if err != nil {
				return err
			}
			rep := &stepLog{w: a.stderr, quiet: quiet}
			res, err := e.Build(cmd.Context(), opts, rep)
			var se *build.StepError
			if err != nil && quiet && errors.As(err, &se) {
				rep.flush() // what the failing step printed
			}
			if err != nil {
				return err
			}
			if !quiet && !res.UpToDate {
				fmt.Fprintf(a.stderr, "built rootfs '%s' (%s)\n", res.Info.Name, progress.HumanBytes(res.Info.Size))
			}
			fmt.Fprintln(a.stdout, res.Info.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.NoCache, "no-cache", false, "make every step again rather than reuse the layers of earlier builds")
	fl.BoolVarP(&opts.Force, "force", "f", false, "replace an existing rootfs of that name that no container uses")
	fl.BoolVarP(&quiet, "quiet", "q", false, "show nothing but errors (and a failing step's output)")
	return cmd
}

// stepLog prints a build's steps and their output as lines. Quiet, it
// keeps the lines since the last step, to show with a failure.
type stepLog struct {
	w     io.Writer
	quiet bool
	mu    sync.Mutex
	kept  []string
}

// keepLines bounds what a quiet build keeps of a step's output.
const keepLines = 50

func (l *stepLog) Report(ev progress.Event) {
	if ev.Kind != progress.Log {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.quiet {
		fmt.Fprintln(l.w, printable.Text(ev.Message))
		return
	}
	if len(l.kept) == keepLines {
		l.kept = l.kept[1:]
	}
	l.kept = append(l.kept, ev.Message)
}

func (l *stepLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.kept {
		fmt.Fprintln(l.w, printable.Text(s))
	}
}
