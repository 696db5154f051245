package spec

import (
	"errors"
	"fmt"

	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/names"
)

// Pod is the pod whose network namespace the whole container joins
// (--pod=NAME): its network is the pod's, loopback and nothing else, and
// the other containers of the pod are on its 127.0.0.1. Empty is the
// host's network.
//
// nspawn joins the namespace itself (--network-namespace-path=, systemd
// 236), before it makes any namespace of its own; the unit first runs
// `sdme pod ensure NAME`, which makes the namespace again if it is gone
// (after a reboot /run is empty), so an enabled container boots in its pod
// without sdme having run. That the pod exists is checked at create, by
// the caller: check reads nothing.
type Pod string

func (p *Pod) check() error {
	if *p == "" {
		return nil
	}
	if err := names.Validate(string(*p)); err != nil {
		return fmt.Errorf("pod: %w", err)
	}
	return nil
}

func (p *Pod) plan(in Input, pl *Plan) error {
	if *p == "" {
		return nil
	}
	if in.Programs.Sdme == "" {
		return fmt.Errorf("pod %q: the path of sdme is not known", string(*p))
	}
	pl.Pre = append(pl.Pre, []string{in.Programs.Sdme, "pod", "ensure", string(*p)})
	pl.Nspawn = append(pl.Nspawn, "--network-namespace-path="+layout.PodNetns(string(*p)))
	return nil
}

func (p *Pod) encode(kv map[string]string) {
	if *p != "" {
		kv["POD"] = string(*p)
	}
}

func (p *Pod) decode(take func(string) string) error {
	*p = Pod(take("POD"))
	if *p != "" && names.Validate(string(*p)) != nil {
		return errors.New("POD is not a name")
	}
	return nil
}
