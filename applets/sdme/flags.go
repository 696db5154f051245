package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// featureFlags are the flags of one feature of a container's spec, each
// in a flags_*.go file of its own.
type featureFlags interface {
	register(cmd *cobra.Command)
	// apply sets the feature in s from the flags that were given.
	apply(cmd *cobra.Command, s *spec.Spec) error
}

// specFlags are the flags of new and create: every feature's.
type specFlags []featureFlags

func newSpecFlags() specFlags {
	return specFlags{&rootFlags{}, &networkFlags{}, &bindFlags{}, &envFlags{}, &limitFlags{}, &podFlags{}, &appFlags{}, &securityFlags{}}
}

func (fs specFlags) register(cmd *cobra.Command) {
	for _, f := range fs {
		f.register(cmd)
	}
}

// spec is the container the flags describe. Values are checked by the
// engine, which names the one it refuses.
func (fs specFlags) spec(cmd *cobra.Command) (spec.Spec, error) {
	var s spec.Spec
	for _, f := range fs {
		if err := f.apply(cmd, &s); err != nil {
			return spec.Spec{}, err
		}
	}
	return s, nil
}
