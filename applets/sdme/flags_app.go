package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// appFlags are the options of a container whose rootfs is an OCI
// application: --oci-pod NAME puts the application alone in a pod.
type appFlags struct{ ociPod string }

func (f *appFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.ociPod, "oci-pod", "", "run only the OCI application in the network namespace of pod `NAME`; the container's systemd keeps its own network")
}

func (f *appFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	s.OCIPod = f.ociPod
	return nil
}
