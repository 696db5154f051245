package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// podFlags are --pod NAME: the container joins the pod's network
// namespace (sdme pod new NAME).
type podFlags struct{ pod string }

func (f *podFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.pod, "pod", "", "run the container in the network namespace of pod `NAME` (sdme pod new): its containers share 127.0.0.1")
}

func (f *podFlags) apply(_ *cobra.Command, s *spec.Spec) error {
	s.Pod = spec.Pod(f.pod)
	return nil
}
