package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// bindFlags are --bind HOST:CONTAINER[:ro], repeatable.
type bindFlags struct{ binds []string }

func (f *bindFlags) register(cmd *cobra.Command) {
	// An array, not a slice: a comma is part of a path, not a separator.
	cmd.Flags().StringArrayVarP(&f.binds, "bind", "b", nil,
		"bind a host path into the container: `HOST:CONTAINER`, or HOST:CONTAINER:ro for read-only (repeatable)")
}

func (f *bindFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	for _, v := range f.binds {
		b, err := spec.ParseBind(v)
		if err != nil {
			return err
		}
		s.Binds = append(s.Binds, b)
	}
	return nil
}
