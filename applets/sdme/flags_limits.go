package sdme

import (
	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/spec"
)

// limitFlags are the cgroup limits, for new, create and set. The value
// none clears a limit.
type limitFlags struct {
	memory, cpus, cpuWeight, tasksMax string
}

func (f *limitFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.memory, "memory", "", "limit memory to `SIZE` (bytes, or with a K, M, G or T suffix; none for no limit)")
	fl.StringVar(&f.cpus, "cpus", "", "limit CPU time to `N` CPUs (0.5 is half of one; none for no limit)")
	fl.StringVar(&f.cpuWeight, "cpu-weight", "", "CPU share `WEIGHT` against other services, 1-10000 (default 100; none to reset)")
	fl.StringVar(&f.tasksMax, "tasks-max", "", "limit processes and threads to `N` (default 16384; none to reset)")
}

func (f *limitFlags) apply(cmd *cobra.Command, s *spec.Spec) error {
	u, err := f.update(cmd)
	if err != nil {
		return err
	}
	s.Limits = s.Limits.Apply(u)
	return nil
}

// update is the change the given flags ask for: a flag not given keeps
// its limit, none clears it.
func (f *limitFlags) update(cmd *cobra.Command) (spec.LimitsUpdate, error) {
	var u spec.LimitsUpdate
	var err error
	count := func(field string) func(string) (uint64, error) {
		return func(s string) (uint64, error) { return spec.ParseCount(field, s) }
	}
	if u.Memory, err = limit(cmd, "memory", f.memory, spec.ParseMemory); err != nil {
		return u, err
	}
	if u.CPUs, err = limit(cmd, "cpus", f.cpus, spec.ParseCPUs); err != nil {
		return u, err
	}
	if u.CPUWeight, err = limit(cmd, "cpu-weight", f.cpuWeight, count("cpu-weight")); err != nil {
		return u, err
	}
	u.TasksMax, err = limit(cmd, "tasks-max", f.tasksMax, count("tasks-max"))
	return u, err
}

// limit reads one limit flag: nil if not given, zero for none.
func limit[T uint64 | float64](cmd *cobra.Command, flag, v string, parse func(string) (T, error)) (*T, error) {
	if !cmd.Flags().Changed(flag) {
		return nil, nil
	}
	var x T
	if v == "none" {
		return &x, nil
	}
	x, err := parse(v)
	if err != nil {
		return nil, err
	}
	if x == 0 {
		// Zero would clear the limit; say none for that.
		return nil, spec.Invalid(flag, v, "use none for no limit")
	}
	return &x, nil
}
