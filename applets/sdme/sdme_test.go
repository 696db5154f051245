package sdme

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command validates its arguments: one without a validator takes
// whatever it is given, and cobra's validators exit 1, not 2.
func TestEveryCommandHasArgs(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args == nil {
			t.Errorf("%q has no Args validator", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(Command(nil, io.Discard, io.Discard))
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fs", "frobnicate"}, `unknown command "frobnicate" for 'sdme fs' (see 'sdme fs --help')`},
		{[]string{"config", "frobnicate"}, `unknown command "frobnicate" for 'sdme config'`},
		{[]string{"completion", "frobnicate"}, `unknown command "frobnicate" for 'sdme completion'`},
		{[]string{"frobnicate"}, `unknown command "frobnicate" for 'sdme'`},
		{[]string{"strat"}, `did you mean 'start'?`},
		{[]string{"fs"}, `'sdme fs' needs a command`},
		{[]string{"start"}, "start needs at least one NAME"},
		{[]string{"ps", "extra"}, "ps takes no arguments"},
		{[]string{"fs", "ls", "extra"}, "fs ls takes no arguments"},
		{[]string{"fs", "import"}, "import needs a SOURCE"},
		{[]string{"fs", "import", "a", "b", "c"}, "import needs a SOURCE"},
		{[]string{"logs", "a", "b"}, "logs needs one NAME"},
		{[]string{"config", "set", "boot_timeout"}, "config set needs a KEY and a VALUE"},
		{[]string{"completion", "bash", "extra"}, "completion bash takes no arguments"},
		{[]string{"create", "a", "b"}, "create takes at most one NAME"},
		{[]string{"stop", "--term", "--kill", "x"}, "--term and --kill contradict each other"},
		{[]string{"ps", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"pod", "frobnicate"}, `unknown command "frobnicate" for 'sdme pod'`},
		{[]string{"pod", "new"}, "name the pod to make"},
		{[]string{"pod", "rm"}, "name the pod to remove"},
		{[]string{"pod", "ls", "x"}, "pod ls takes no arguments"},
		{[]string{"pod", "ensure"}, "name the pod"},
	} {
		var stdout, stderr bytes.Buffer
		if got := Main(c.args, strings.NewReader(""), &stdout, &stderr); got != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("sdme %v: status %d, stderr %q; want 2 and %q", c.args, got, stderr.String(), c.want)
		}
	}
}
