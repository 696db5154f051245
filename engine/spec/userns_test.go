package spec

import (
	"slices"
	"testing"
)

func TestAllocateShift(t *testing.T) {
	a, err := AllocateShift("web", nil)
	if err != nil || !validShift(a) {
		t.Fatalf("AllocateShift = %d, %v", a, err)
	}
	if again, _ := AllocateShift("web", nil); again != a {
		t.Errorf("the same name moved from %d to %d", a, again)
	}
	b, _ := AllocateShift("web", map[uint32]bool{a: true})
	if b == a || !validShift(b) {
		t.Errorf("a taken range was given again: %d", b)
	}
}

func TestUserNSState(t *testing.T) {
	s := Spec{UserNS: UserNS{Enabled: true, Shift: 0x100000}}
	kv := map[string]string{}
	s.Encode(kv)
	if kv["USERNS"] != "yes" || kv["USERNS_SHIFT"] != "1048576" || kv["USERNS_RANGE"] != "65536" {
		t.Fatalf("encoded %v", kv)
	}
	for _, bad := range []map[string]string{
		{"USERNS": "yes", "USERNS_SHIFT": "12", "USERNS_RANGE": "65536"},       // not aligned
		{"USERNS": "yes", "USERNS_SHIFT": "0", "USERNS_RANGE": "65536"},        // the host's own IDs
		{"USERNS": "yes", "USERNS_SHIFT": "1048576", "USERNS_RANGE": "131072"}, // a range sdme does not give
		{"USERNS": "maybe", "USERNS_SHIFT": "1048576", "USERNS_RANGE": "65536"},
	} {
		if _, err := Decode(func(k string) string { v := bad[k]; delete(bad, k); return v }); err == nil {
			t.Errorf("decoded %v", bad)
		}
	}
}

func TestProfiles(t *testing.T) {
	h := Spec{Security: Security{Hardened: true, Capabilities: []string{"sys_ptrace"}}}
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if !h.UserNS.Enabled || !h.Network.Private || !h.NoNewPrivileges {
		t.Errorf("hardened: userns %v, private network %v, no new privileges %v", h.UserNS.Enabled, h.Network.Private, h.NoNewPrivileges)
	}
	if !slices.Equal(h.DropCapabilities, []string{"CAP_NET_RAW", "CAP_SYS_RAWIO", "CAP_SYS_BOOT"}) {
		t.Errorf("hardened drops %v; a --capability stays", h.DropCapabilities)
	}
	again := h
	again.DropCapabilities = slices.Clone(h.DropCapabilities)
	if err := again.Check(); err != nil || !slices.Equal(again.DropCapabilities, h.DropCapabilities) {
		t.Errorf("a second Check changed the drops: %v, %v", again.DropCapabilities, err)
	}

	s := Spec{Security: Security{Strict: true}}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if !s.Hardened || !s.UserNS.Enabled || len(s.SystemCallFilter) == 0 {
		t.Errorf("strict: hardened %v, userns %v, filter %v", s.Hardened, s.UserNS.Enabled, s.SystemCallFilter)
	}
	for _, c := range capabilities {
		if slices.Contains(s.DropCapabilities, c) == slices.Contains(strictKeeps, c) {
			t.Errorf("strict: %s dropped %v", c, slices.Contains(s.DropCapabilities, c))
		}
	}
	if slices.Contains(strictKeeps, "CAP_NET_RAW") {
		t.Error("strict keeps CAP_NET_RAW, which hardened drops")
	}
	own := Spec{Security: Security{Strict: true, SystemCallFilter: []string{"~@swap"}}}
	if err := own.Check(); err != nil || !slices.Equal(own.SystemCallFilter, []string{"~@swap"}) {
		t.Errorf("a filter of the caller's is replaced: %v, %v", own.SystemCallFilter, err)
	}

	pod := Spec{Security: Security{Hardened: true}, Pod: "p"}
	if err := pod.Check(); err != nil || pod.Network.Private {
		t.Errorf("hardened in a pod: %v, private %v", err, pod.Network.Private)
	}
	ociPod := Spec{Security: Security{Hardened: true}, App: App{OCIApp: true, OCIPod: "p"}}
	if err := ociPod.Check(); err == nil {
		t.Error("hardened with an OCI pod is accepted")
	}
	for _, filter := range strictFilter {
		if err := checkSyscallFilter(filter); err != nil {
			t.Error(err)
		}
	}
}
