package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// envFlags are --env KEY=VALUE, repeatable.
type envFlags struct{ env []string }

func (f *envFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.env, "env", "e", nil, "set `KEY=VALUE` in the environment of the container's init (repeatable)")
}

func (f *envFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	s.Env = append(s.Env, f.env...)
	return nil
}
