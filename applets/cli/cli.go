// Package cli is what every applet shares: running a cobra command tree
// with signals wired to its context, and turning the engine's errors into
// messages and exit codes, in one place.
//
// Exit status: 0 success; 1 an error; 2 a usage error (an unknown command
// or flag, a missing argument, an invalid name or value, a name prefix
// that matches more than one object), which is one by its type,
// UsageError, never by its text. Commands that run something in a
// container (exec, join) exit with that command's status instead.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/printable"
)

// UsageError marks an error in how a command was called.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// ExitStatus is returned by a command that ends with a given status,
// without a message: the status of a command run in a container.
type ExitStatus int

func (s ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// Code maps an error to the process exit status.
func Code(err error) int {
	var st ExitStatus
	var ue UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue), errors.Is(err, errdefs.ErrInvalidArgument):
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// Run executes root with args and returns the exit status. SIGINT and
// SIGTERM cancel the command's context, so the engine can clean up what it
// had begun before sdme exits.
func Run(root *cobra.Command, args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root.SetArgs(args)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return UsageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	_, err := root.ExecuteContextC(ctx)
	if err != nil {
		var st ExitStatus
		if !errors.As(err, &st) {
			fmt.Fprintf(stderr, "%s: %s\n", root.Name(), message(err))
		}
	}
	return Code(err)
}

// message is an error as the CLI shows it: the engine's hint, if any, is
// worded as sdme's commands and flags. Errors carry foreign text (a
// guest's log lines, a registry's answer): nothing in it may drive the
// user's terminal.
func message(err error) string {
	msg := err.Error()
	var e *errdefs.Error
	if errors.As(err, &e) {
		if h := hint(e); h != "" {
			msg += "; " + h
		}
	}
	return printable.Text(msg)
}

// hint words e's hint as advice on the command line.
func hint(e *errdefs.Error) string {
	switch e.Hint {
	case errdefs.HintRemove:
		if e.Kind == errdefs.Rootfs {
			return fmt.Sprintf("remove it with 'sdme fs rm %s'", e.Name)
		}
		return fmt.Sprintf("remove it with 'sdme rm %s'", e.Name)
	case errdefs.HintStart:
		return fmt.Sprintf("start it with 'sdme start %s'", e.Name)
	case errdefs.HintKill:
		return fmt.Sprintf("force it with 'sdme stop --kill %s'", e.Name)
	case errdefs.HintList:
		switch e.Kind {
		case errdefs.Rootfs:
			return "see 'sdme fs ls'"
		case errdefs.Pod:
			return "see 'sdme pod ls'"
		}
		return "see 'sdme ps'"
	case errdefs.HintForce:
		if e.Kind == errdefs.Pod {
			return "remove the containers first, or use --force to remove them with the pod"
		}
		return "use --force to replace it"
	case errdefs.HintRoot:
		return "run it with sudo"
	case errdefs.HintName:
		return "give a name: sdme fs import NAME SOURCE"
	case errdefs.HintDatadir:
		return "or choose another with 'sdme config set datadir'"
	case errdefs.HintPlatform:
		return "choose one with --platform"
	case errdefs.HintInsecure:
		return "if this registry is served over plain HTTP or with a self-signed certificate, allow it with --tls-verify=false or 'sdme config set insecure_registries HOST[:PORT]'"
	case errdefs.HintBase:
		return "name a base rootfs with systemd: --base-fs=BASE (or 'sdme config set default_base_fs BASE'); --oci-mode=base imports the image as a plain rootfs"
	}
	return ""
}

// RangeArgs is a cobra.PositionalArgs that fails with a UsageError saying
// msg unless there are min to max arguments (max < 0: no limit). cobra's
// own validators return untyped errors, which would exit 1.
func RangeArgs(min, max int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || max >= 0 && len(args) > max {
			return Usagef("%s (see '%s --help')", msg, cmd.CommandPath())
		}
		return nil
	}
}

// MaxArgs fails with a UsageError saying msg past n arguments.
func MaxArgs(n int, msg string) cobra.PositionalArgs { return RangeArgs(0, n, msg) }

// MinArgs fails with a UsageError saying msg under n arguments.
func MinArgs(n int, msg string) cobra.PositionalArgs { return RangeArgs(n, -1, msg) }

// Group makes cmd, a command that only holds others, refuse a command it
// does not have with a UsageError: cobra would print the help and exit 0,
// which a script takes for success. Run bare, it prints its help and
// fails too, as podman's groups do: nothing was done.
func Group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		hint := ""
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("; did you mean '%s'?", strings.Join(s, "' or '"))
		}
		return Usagef("unknown command %q for '%s'%s (see '%s --help')", args[0], c.CommandPath(), hint, c.CommandPath())
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := c.Help(); err != nil {
			return err
		}
		return Usagef("'%s' needs a command", c.CommandPath())
	}
	// cobra's default, 0, suggests nothing for a typo such as "lss".
	cmd.SuggestionsMinimumDistance = 2
	return cmd
}

// batchSize is how many calls of a batch run at once. The system bus
// refuses more than 128 pending replies on one connection (dbus-daemon's
// max_replies_per_connection), and boots past a few dozen would only share
// the CPU, each with its boot timeout running.
const batchSize = 32

// Batch applies fn to every name at once (batchSize at a time), each in a
// goroutine of its own, so that the work of one need not wait for
// another's (systemd runs the jobs of a batch side by side). resolve
// first turns each argument into the name fn gets, one after another in
// argument order (nil takes the arguments as they are); arguments that
// resolve to the same name share one call of fn, which must not run twice
// at once on one name.
//
// Batch reports in argument order, each as soon as the ones before it are
// reported: a name that succeeded on stdout, a failure on stderr. It fails
// at the end if any argument failed. Once ctx is cancelled (Ctrl-C), fn
// must return soon; Batch waits for every call, so that none is cut short
// in its cleanup, and returns ctx's error if any call was cancelled. It
// fails with a usage error if an argument did (an ambiguous prefix), as
// the command alone would. noun names the objects in plural
// ("containers").
func Batch(ctx context.Context, stdout, stderr io.Writer, prog, noun, pastTense string, args []string,
	resolve func(arg string) (string, error), fn func(name string) error) error {
	return BatchAfter(ctx, stdout, stderr, prog, noun, pastTense, args, resolve, nil, fn)
}

// BatchAfter is Batch where fn of a name waits for the calls of the names
// after(name) returns that are in the batch too (a base after its
// applications). It waits before it takes one of the batchSize places,
// so a batch of any size cannot block itself; after must not go round in
// a circle.
func BatchAfter(ctx context.Context, stdout, stderr io.Writer, prog, noun, pastTense string, args []string,
	resolve func(arg string) (string, error), after func(name string) []string, fn func(name string) error) error {
	type outcome struct {
		name string
		err  error
		done chan struct{}
	}
	calls := map[string]*outcome{}
	slots := make(chan struct{}, batchSize)
	outcomes := make([]*outcome, len(args))
	var start []*outcome
	for i, arg := range args {
		name, err := arg, ctx.Err() // nothing begins after Ctrl-C
		if err == nil && resolve != nil {
			name, err = resolve(arg)
		}
		o := calls[name]
		switch {
		case err != nil:
			o = &outcome{err: err, done: make(chan struct{})}
			close(o.done)
		case o == nil:
			o = &outcome{name: name, done: make(chan struct{})}
			calls[name] = o
			start = append(start, o)
		}
		outcomes[i] = o
	}
	// Started once every call is known, so that each can find the ones it
	// comes after.
	for _, o := range start {
		var first []*outcome
		if after != nil {
			for _, n := range after(o.name) {
				if d := calls[n]; d != nil && d != o {
					first = append(first, d)
				}
			}
		}
		go func() {
			defer close(o.done)
			for _, d := range first {
				<-d.done
			}
			slots <- struct{}{}
			defer func() { <-slots }()
			if o.err = ctx.Err(); o.err == nil {
				o.err = fn(o.name)
			}
		}()
	}
	failed, cancelled, usage := 0, false, false
	for _, o := range outcomes {
		<-o.done
		switch {
		case o.err == nil:
			fmt.Fprintln(stdout, o.name)
			continue
		case ctx.Err() != nil && errors.Is(o.err, context.Canceled):
			cancelled = true // said once, by the caller of Batch
		default:
			fmt.Fprintf(stderr, "%s: %s\n", prog, message(o.err))
			usage = usage || Code(o.err) == 2
		}
		failed++
	}
	switch {
	case cancelled:
		return ctx.Err()
	case failed > 0:
		err := fmt.Errorf("%d of %d %s could not be %s", failed, len(args), noun, pastTense)
		if usage {
			return UsageError{err}
		}
		return err
	}
	return nil
}

// Duration is a flag value for timeouts: a bare number is seconds, and Go
// durations such as 90s or 2m also work.
type Duration time.Duration

func (d *Duration) String() string {
	if *d == 0 {
		return "0"
	}
	return time.Duration(*d).String()
}

func (d *Duration) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		if n > config.MaxSeconds {
			return fmt.Errorf("%q seconds is too long: at most %d", s, config.MaxSeconds)
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration (e.g. 90 or 90s or 2m)", s)
	}
	*d = Duration(v)
	return nil
}

func (d *Duration) Type() string { return "duration" }

// IsTerminal reports whether f (a reader or writer) is a terminal.
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
