package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// rootFlags choose the container's file system: a clone of / or an
// imported rootfs, and the directories it hides.
type rootFlags struct {
	rootfs string
	opaque []string
}

func (f *rootFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.rootfs, "fs", "r", "", "build on the imported rootfs `NAME` instead of cloning /")
	cmd.Flags().StringSliceVarP(&f.opaque, "opaque-dir", "o", nil,
		"hide the lower layer's `DIR` (repeatable or comma-separated; default: config host_rootfs_opaque_dirs)")
}

func (f *rootFlags) apply(cmd *cobra.Command, s *spec.Spec) error {
	s.Rootfs = f.rootfs
	if cmd.Flags().Changed("opaque-dir") {
		// Non-nil, so that -o "" means none rather than the default.
		s.OpaqueDirs = append([]string{}, f.opaque...)
	}
	return nil
}
