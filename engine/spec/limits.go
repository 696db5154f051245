package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sdme/sdme/engine/systemd"
)

// Limits are the container's cgroup limits, properties of its unit. Zero
// is no limit.
type Limits struct {
	// Memory is MemoryMax=, in bytes; swap may add as much again
	// (MemorySwapMax=), as with Docker's --memory.
	Memory uint64 `json:"memory,omitempty"`
	// CPUs is CPUQuota=, in CPUs: 0.5 is half of one CPU's time.
	CPUs float64 `json:"cpus,omitempty"`
	// CPUWeight is CPUWeight=, 1 to 10000 (systemd's default is 100).
	CPUWeight uint64 `json:"cpuWeight,omitempty"`
	// TasksMax is TasksMax=; DefaultTasksMax when zero.
	TasksMax uint64 `json:"tasksMax,omitempty"`
}

// DefaultTasksMax bounds the processes and threads of a container whose
// spec does not.
const DefaultTasksMax = 16384

// The bounds of each limit. A container below 6 MiB cannot boot systemd
// (Docker refuses less too); the kernel has at most 2^22 process IDs.
const (
	minMemory   = 6 << 20
	minCPUs     = 0.01
	maxCPUs     = 1 << 16
	maxWeight   = 10000
	maxTasksMax = 1 << 22
)

// LimitsUpdate changes some limits: a nil field keeps its limit, a zero
// one clears it.
type LimitsUpdate struct {
	Memory    *uint64
	CPUs      *float64
	CPUWeight *uint64
	TasksMax  *uint64
}

// Apply returns l changed by u.
func (l Limits) Apply(u LimitsUpdate) Limits {
	if u.Memory != nil {
		l.Memory = *u.Memory
	}
	if u.CPUs != nil {
		l.CPUs = *u.CPUs
	}
	if u.CPUWeight != nil {
		l.CPUWeight = *u.CPUWeight
	}
	if u.TasksMax != nil {
		l.TasksMax = *u.TasksMax
	}
	return l
}

// ParseMemory reads a size in bytes with an optional K, M, G or T suffix
// (powers of 1024), as --memory takes it.
func ParseMemory(s string) (uint64, error) {
	num, shift := s, 0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("KMGTkmgt", s[n-1]); i >= 0 {
			num, shift = s[:n-1], 10*(i%4+1)
		}
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil || v > math.MaxUint64>>shift {
		return 0, Invalid("memory", s, "want a size such as 512M or 2G")
	}
	return v << shift, nil
}

// ParseCPUs reads a number of CPUs, fractions allowed, as --cpus takes it.
func ParseCPUs(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, Invalid("cpus", s, "want a number of CPUs such as 0.5 or 2")
	}
	return v, nil
}

// ParseCount reads a whole number, as --cpu-weight and --tasks-max take it.
func ParseCount(field, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, Invalid(field, s, "want a whole number")
	}
	return v, nil
}

func (l *Limits) check() error {
	switch {
	case l.Memory != 0 && l.Memory < minMemory:
		return Invalid("memory", strconv.FormatUint(l.Memory, 10), "at least 6M")
	case l.CPUs < 0 || (l.CPUs != 0 && l.CPUs < minCPUs) || l.CPUs > maxCPUs || math.IsNaN(l.CPUs):
		return Invalid("cpus", strconv.FormatFloat(l.CPUs, 'g', -1, 64), fmt.Sprintf("from %g to %d", minCPUs, maxCPUs))
	case math.Abs(l.CPUs*100-math.Round(l.CPUs*100)) > 1e-6:
		// CPUQuota= is a whole percentage: 0.125 would quietly become 13%.
		return Invalid("cpus", strconv.FormatFloat(l.CPUs, 'g', -1, 64), "at most two decimals (CPUQuota= is in whole percent)")
	case l.CPUWeight > maxWeight:
		return Invalid("cpu-weight", strconv.FormatUint(l.CPUWeight, 10), fmt.Sprintf("from 1 to %d", maxWeight))
	case l.TasksMax > maxTasksMax:
		return Invalid("tasks-max", strconv.FormatUint(l.TasksMax, 10), fmt.Sprintf("from 1 to %d", maxTasksMax))
	}
	return nil
}

// quotaPercent is CPUQuota= for cpus: one CPU is 100%.
func quotaPercent(cpus float64) uint64 { return uint64(math.Round(cpus * 100)) }

func (l *Limits) tasksMax() uint64 {
	if l.TasksMax == 0 {
		return DefaultTasksMax
	}
	return l.TasksMax
}

// plan writes every limit, an unset one as the value that clears it: the
// drop-in then wins over whatever an earlier SetLimits left in systemd's
// run-time settings (50-MemoryMax.conf and so on), since systemd applies
// drop-ins in the order of their file names, sdme.conf last.
func (l *Limits) plan(_ Input, p *Plan) error {
	memory, quota, weight := "infinity", "", ""
	if l.Memory != 0 {
		memory = strconv.FormatUint(l.Memory, 10)
	}
	if l.CPUs != 0 {
		quota = fmt.Sprintf("%d%%", quotaPercent(l.CPUs))
	}
	if l.CPUWeight != 0 {
		weight = strconv.FormatUint(l.CPUWeight, 10)
	}
	p.Service = append(p.Service,
		systemd.Raw("MemoryMax", memory),
		systemd.Raw("MemorySwapMax", memory),
		systemd.Raw("CPUQuota", quota),
		systemd.Raw("CPUWeight", weight),
		systemd.Raw("TasksMax", strconv.FormatUint(l.tasksMax(), 10)),
	)
	return nil
}

// Properties are the limits as D-Bus unit properties, for applying them to
// a unit at run time. An unset limit is sent as the value that clears it
// (infinity, or for CPUWeight the unset weight).
func (l Limits) Properties() []systemd.Property {
	orNone := func(v uint64) uint64 {
		if v == 0 {
			return math.MaxUint64
		}
		return v
	}
	quota := uint64(math.MaxUint64)
	if l.CPUs != 0 {
		quota = quotaPercent(l.CPUs) * 10000 // µs per second
	}
	return []systemd.Property{
		{Name: "MemoryMax", Value: orNone(l.Memory)},
		{Name: "MemorySwapMax", Value: orNone(l.Memory)},
		{Name: "CPUQuotaPerSecUSec", Value: quota},
		{Name: "CPUWeight", Value: orNone(l.CPUWeight)},
		{Name: "TasksMax", Value: l.tasksMax()},
	}
}

// The state keys are the original sdme's, values in bytes and numbers.
func (l *Limits) encode(kv map[string]string) {
	put := func(k string, v uint64) {
		if v != 0 {
			kv[k] = strconv.FormatUint(v, 10)
		}
	}
	put("MEMORY", l.Memory)
	if l.CPUs != 0 {
		kv["CPUS"] = strconv.FormatFloat(l.CPUs, 'g', -1, 64)
	}
	put("CPU_WEIGHT", l.CPUWeight)
	put("TASKS_MAX", l.TasksMax)
}

func (l *Limits) decode(take func(string) string) error {
	for _, f := range []struct {
		key   string
		parse func(string) error
	}{
		{"MEMORY", func(s string) (err error) { l.Memory, err = ParseMemory(s); return }},
		{"CPUS", func(s string) (err error) { l.CPUs, err = ParseCPUs(s); return }},
		{"CPU_WEIGHT", func(s string) (err error) { l.CPUWeight, err = ParseCount("", s); return }},
		{"TASKS_MAX", func(s string) (err error) { l.TasksMax, err = ParseCount("", s); return }},
	} {
		if s := take(f.key); s != "" && f.parse(s) != nil {
			// Not the parser's error: a damaged state file is not the
			// caller's invalid argument, and errors never quote it.
			return fmt.Errorf("%s is not valid", f.key)
		}
	}
	return nil
}
