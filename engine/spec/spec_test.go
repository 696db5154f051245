package spec

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/mountinfo"
	"github.com/sdme/sdme/engine/systemd"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// input is a host with /home on a disk of its own.
func input(t *testing.T, name string, lowers ...string) Input {
	mounts, err := mountinfo.Parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Name: name, Layout: layout.Layout{Datadir: "/var/lib/sdme"}, Lowers: lowers,
		Programs:   Programs{Nspawn: "/usr/bin/systemd-nspawn", Mount: "/usr/bin/mount", Umount: "/usr/bin/umount", Rmdir: "/usr/bin/rmdir", SystemdRun: "/usr/bin/systemd-run", Sdme: "/usr/local/bin/sdme"},
		HostMounts: mounts, TimeoutSec: 120,
	}
}

// TestPlanGolden renders each feature's plan as the drop-in it writes and
// compares it with testdata/FEATURE.conf (go test -update rewrites them).
func TestPlanGolden(t *testing.T) {
	hostClone := Root{OpaqueDirs: []string{"/etc/systemd/system", "/var/log"}}
	for _, c := range []struct {
		name  string
		spec  Spec
		lower string
	}{
		{"hostclone", Spec{Root: hostClone}, "/"},
		{"rootfs", Spec{Root: Root{Rootfs: "debian"}}, "/var/lib/sdme/fs/debian"},
		{"binds", Spec{Root: hostClone, Binds: Binds{{Host: "/srv/data", Container: "/data"}, {Host: "/var/log/app", Container: "/log", ReadOnly: true}}}, "/"},
		{"env", Spec{Root: Root{Rootfs: "debian"}, Env: Env{"A=1", `B=two words "q" 'q' 50% $HOME \n`}}, "/var/lib/sdme/fs/debian"},
		{"private-network", Spec{Root: Root{Rootfs: "debian"}, Network: Network{Private: true}}, "/var/lib/sdme/fs/debian"},
		{"ports", Spec{Root: Root{Rootfs: "debian"}, Network: Network{Ports: []Port{{"tcp", 8080, 80}, {"udp", 53, 53}}}}, "/var/lib/sdme/fs/debian"},
		{"network-zone", Spec{Root: Root{Rootfs: "debian"}, Network: Network{Zone: "web", Ports: []Port{{"tcp", 8443, 443}}}}, "/var/lib/sdme/fs/debian"},
		{"limits", Spec{Root: Root{Rootfs: "debian"}, Limits: Limits{Memory: 2 << 30, CPUs: 0.5, CPUWeight: 200, TasksMax: 100}}, "/var/lib/sdme/fs/debian"},
		{"pod", Spec{Root: Root{Rootfs: "debian"}, Pod: "web-pod"}, "/var/lib/sdme/fs/debian"},
		{"security", Spec{Root: Root{Rootfs: "debian"}, Security: Security{DropCapabilities: []string{"CAP_NET_RAW", "CAP_SYS_PTRACE"}, Capabilities: []string{"CAP_SYS_TIME"}, NoNewPrivileges: true, ReadOnly: true, SystemCallFilter: []string{"~@raw-io", "~sethostname"}, AppArmorProfile: "sdme-default"}}, "/var/lib/sdme/fs/debian"},
		{"userns-rootfs", Spec{Root: Root{Rootfs: "debian"}, Binds: Binds{{Host: "/srv/data", Container: "/data"}}, UserNS: UserNS{Enabled: true, Shift: 0x100000}}, "/var/lib/sdme/fs/debian"},
		{"userns-hostclone", Spec{Root: hostClone, UserNS: UserNS{Enabled: true, Shift: 0x100000}}, "/"},
		{"userns-app", Spec{Root: Root{Rootfs: "nginx"}, App: App{OCIApp: true, OCIVolumes: []string{"/data"}}, UserNS: UserNS{Enabled: true, Shift: 0x100000}}, "/var/lib/sdme/fs/nginx:/var/lib/sdme/fs/debian"},
		{"app", Spec{Root: Root{Rootfs: "nginx"}, Network: Network{Private: true}, App: App{OCIApp: true, OCIPod: "web-pod", OCIVolumes: []string{"/var/cache/nginx", "/data"}}}, "/var/lib/sdme/fs/nginx:/var/lib/sdme/fs/debian"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Build(c.spec, input(t, "web", strings.Split(c.lower, ":")...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := systemd.RenderDropin(p.Dropin())
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".conf")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("plan of %s:\n%s\nwant (%s):\n%s", c.name, got, golden, want)
			}
		})
	}
}

func TestPlanDirs(t *testing.T) {
	p, err := Build(Spec{}, input(t, "web", "/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Uppers) < 1 || p.Uppers[0] != "/var/lib/sdme/containers/web/submounts/home/upper" || p.UppersOwner != 0 {
		t.Errorf("Uppers = %v owned by %d, want the /home layer first, owned by root", p.Uppers, p.UppersOwner)
	}
	if len(p.Dirs) < 1 || p.Dirs[0] != "/var/lib/sdme/containers/web/submounts/home/work" {
		t.Errorf("Dirs = %v, want the /home layer's work directory first", p.Dirs)
	}
	shift := uint32(0x100000)
	if p, _ := Build(Spec{UserNS: UserNS{Enabled: true, Shift: shift}}, input(t, "web", "/")); p.UppersOwner != int(shift) {
		t.Errorf("in a user namespace, the upper layers are owned by %d, want %d", p.UppersOwner, shift)
	}
	if p, _ := Build(Spec{Root: Root{Rootfs: "debian"}}, input(t, "web", "/x")); len(p.Dirs) != 0 {
		t.Errorf("a rootfs container layers no host mounts: %v", p.Dirs)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ok := []Spec{
		{},
		{Binds: Binds{{Host: dir, Container: "/data"}, {Host: dir, Container: "/data2", ReadOnly: true}}},
		{Env: Env{"A=", "_b1=x y", "C=a=b", `D="'%$\`}},
		{Limits: Limits{Memory: 6 << 20, CPUs: 0.01, CPUWeight: 1, TasksMax: 1}},
		{Limits: Limits{CPUs: 65536, CPUWeight: 10000, TasksMax: 1 << 22}},
		{Pod: "p1"},
		{Pod: "a-pod-with-a-long-name-0123456789"},
		{Security: Security{DropCapabilities: []string{"net_raw", "CAP_SYS_ptrace", "CAP_NET_RAW"}, Capabilities: []string{"sys_time"}}},
		{Security: Security{SystemCallFilter: []string{"@system-service", "~@raw-io", "~sethostname", "io_uring_setup"}, NoNewPrivileges: true, ReadOnly: true}},
	}
	for _, s := range ok {
		if err := s.Check(); err != nil {
			t.Errorf("Check(%+v) = %v", s, err)
		}
	}
	bad := map[string]Spec{
		"relative host":      {Binds: Binds{{Host: "srv", Container: "/data"}}},
		"relative container": {Binds: Binds{{Host: dir, Container: "data"}}},
		"dotdot":             {Binds: Binds{{Host: dir + "/../x", Container: "/data"}}},
		"dotdot container":   {Binds: Binds{{Host: dir, Container: "/data/../etc"}}},
		"missing host":       {Binds: Binds{{Host: dir + "/nope", Container: "/data"}}},
		"colon":              {Binds: Binds{{Host: dir, Container: "/a:b"}}},
		"backslash":          {Binds: Binds{{Host: dir, Container: `/a\b`}}},
		"not utf-8":          {Binds: Binds{{Host: dir, Container: "/a\xffb"}}},
		"same target clean":  {Binds: Binds{{Host: dir, Container: "/d"}, {Host: "/", Container: "/d/"}}},
		"env not utf-8":      {Env: Env{"A=\xff\xfe"}},
		"env too long":       {Env: Env{"A=" + strings.Repeat("x", maxEnvEntry)}},
		"cpus decimals":      {Limits: Limits{CPUs: 0.125}},
		"pipe":               {Binds: Binds{{Host: dir, Container: "/a|b"}}},
		"newline":            {Binds: Binds{{Host: dir, Container: "/a\nb"}}},
		"over root":          {Binds: Binds{{Host: dir, Container: "/"}}},
		"same target":        {Binds: Binds{{Host: dir, Container: "/d"}, {Host: "/", Container: "/d"}}},
		"env no =":           {Env: Env{"A"}},
		"env bad key":        {Env: Env{"1A=x"}},
		"env key dash":       {Env: Env{"A-B=x"}},
		"env newline":        {Env: Env{"A=x\ny"}},
		"env pipe":           {Env: Env{"A=x|y"}},
		"env twice":          {Env: Env{"A=1", "A=2"}},
		"memory small":       {Limits: Limits{Memory: 1024}},
		"cpus small":         {Limits: Limits{CPUs: 0.001}},
		"cpus negative":      {Limits: Limits{CPUs: -1}},
		"cpus nan":           {Limits: Limits{CPUs: math.NaN()}},
		"cpus huge":          {Limits: Limits{CPUs: 1e9}},
		"weight":             {Limits: Limits{CPUWeight: 10001}},
		"tasks":              {Limits: Limits{TasksMax: 1 << 23}},
		"opaque relative":    {Root: Root{OpaqueDirs: []string{"var"}}},
		"rootfs name":        {Root: Root{Rootfs: "../x"}},
		"pod and veth":       {Pod: "db", Network: Network{Veth: true}},
		"pod and private":    {Pod: "db", Network: Network{Private: true}},
		"pod and port":       {Pod: "db", Network: Network{Ports: []Port{{"tcp", 80, 80}}}},
		"pod path":           {Pod: "../x"},
		"pod upper":          {Pod: "Pod"},
		"pod slash":          {Pod: "a/b"},
		"pod long":           {Pod: Pod(strings.Repeat("p", 65))},
		"pod digit":          {Pod: "1pod"},
		"unknown cap":        {Security: Security{DropCapabilities: []string{"CAP_FLY"}}},
		"empty cap":          {Security: Security{Capabilities: []string{""}}},
		"cap both ways":      {Security: Security{DropCapabilities: []string{"net_raw"}, Capabilities: []string{"CAP_NET_RAW"}}},
		"unknown group":      {Security: Security{SystemCallFilter: []string{"@nonsense"}}},
		"filter syntax":      {Security: Security{SystemCallFilter: []string{"~"}}},
		"filter space":       {Security: Security{SystemCallFilter: []string{"read write"}}},
		"filter comma":       {Security: Security{SystemCallFilter: []string{"read,write"}}},
		"filter upper":       {Security: Security{SystemCallFilter: []string{"READ"}}},
	}
	for what, s := range bad {
		if err := s.Check(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: Check(%+v) = %v, want ErrInvalidArgument", what, s, err)
		}
	}
}

func TestCheckCleansBinds(t *testing.T) {
	s := Spec{Binds: Binds{{Host: "/tmp/", Container: "/data//x/"}}}
	if err := s.Check(); err != nil || s.Binds[0] != (Bind{Host: "/tmp", Container: "/data/x"}) {
		t.Errorf("Check = %v, binds %+v; want cleaned paths", err, s.Binds)
	}
}

func TestEnvNames(t *testing.T) {
	if got := (Env{"A=secret", "B=", "C=x=y"}).Names(); !reflect.DeepEqual(got, Env{"A", "B", "C"}) {
		t.Errorf("Names = %v", got)
	}
}

func TestCheckNamesTheValue(t *testing.T) {
	s := Spec{Binds: Binds{{Host: "/nonexistent/x", Container: "/data", ReadOnly: true}}}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "/nonexistent/x:/data:ro") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Check = %v; want the bind and why", err)
	}
	s = Spec{Limits: Limits{CPUWeight: 20000}}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "cpu-weight") || !strings.Contains(err.Error(), "20000") {
		t.Errorf("Check = %v; want the field and the value", err)
	}
}

func TestParseBind(t *testing.T) {
	for in, want := range map[string]Bind{
		"/:/host":      {Host: "/", Container: "/host"},
		"/:/host:ro":   {Host: "/", Container: "/host", ReadOnly: true},
		"/tmp/:/t/:rw": {Host: "/tmp/", Container: "/t/"},
	} {
		if got, err := ParseBind(in); err != nil || got != want {
			t.Errorf("ParseBind(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"/", "/:/a:rx", "/:/a:ro:x", "a:/b", ""} {
		if _, err := ParseBind(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseBind(%q) = %v, want ErrInvalidArgument", in, err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	for in, want := range map[string]uint64{"1024": 1024, "512M": 512 << 20, "2g": 2 << 30, "1T": 1 << 40, "3K": 3072} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "1.5G", "-1", "1GB", "99999999999T", "1 G"} {
		if _, err := ParseMemory(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseMemory(%q) = %v, want ErrInvalidArgument", in, err)
		}
	}
	for _, in := range []string{"x", "NaN", "Inf", ""} {
		if _, err := ParseCPUs(in); err == nil {
			t.Errorf("ParseCPUs(%q) = nil error", in)
		}
	}
	if _, err := ParseCount("tasks-max", "-1"); err == nil {
		t.Error("ParseCount(-1) = nil error")
	}
}

func TestLimitsApplyAndProperties(t *testing.T) {
	zero, gig, half := uint64(0), uint64(1<<30), 0.5
	l := Limits{Memory: 2 << 30, CPUWeight: 50, TasksMax: 10}.Apply(LimitsUpdate{Memory: &gig, CPUs: &half, TasksMax: &zero})
	if want := (Limits{Memory: 1 << 30, CPUs: 0.5, CPUWeight: 50}); l != want {
		t.Errorf("Apply = %+v, want %+v", l, want)
	}
	got := map[string]any{}
	for _, p := range l.Properties() {
		got[p.Name] = p.Value
	}
	want := map[string]any{
		"MemoryMax": uint64(1 << 30), "MemorySwapMax": uint64(1 << 30), "CPUQuotaPerSecUSec": uint64(500000),
		"CPUWeight": uint64(50), "TasksMax": uint64(DefaultTasksMax),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Properties = %v, want %v", got, want)
	}
	for _, p := range (Limits{}).Properties() {
		if p.Name != "TasksMax" && p.Value != uint64(math.MaxUint64) {
			t.Errorf("cleared %s = %v, want infinity", p.Name, p.Value)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	in := Spec{
		Root:    Root{Rootfs: "debian", OpaqueDirs: []string{"/var/log"}},
		Network: Network{Private: true, Veth: true, Zone: "web", Ports: []Port{{"tcp", 8080, 80}, {"udp", 53, 5353}}},
		Binds:   Binds{{Host: "/srv", Container: "/data", ReadOnly: true}},
		Env:     Env{`A=x "y" $z \w`},
		Limits:  Limits{Memory: 1 << 30, CPUs: 1.25, CPUWeight: 3, TasksMax: 7},
		Pod:     "db",
		App:     App{OCIApp: true, OCIVolumes: []string{"/data"}},
		Security: Security{DropCapabilities: []string{"CAP_NET_RAW"}, Capabilities: []string{"CAP_SYS_TIME"},
			NoNewPrivileges: true, ReadOnly: true, SystemCallFilter: []string{"~@raw-io", "sethostname"}},
	}
	kv := map[string]string{}
	in.Encode(kv)
	out, err := Decode(func(k string) string { v := kv[k]; delete(kv, k); return v })
	if err != nil {
		t.Fatal(err)
	}
	if len(kv) != 0 {
		t.Errorf("keys not decoded: %v", kv)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("Decode(Encode(x)) = %+v, want %+v", out, in)
	}
	// The original sdme wrote sizes with suffixes.
	s, err := Decode(func(k string) string { return map[string]string{"MEMORY": "2G", "CPUS": "0.5"}[k] })
	if err != nil || s.Limits.Memory != 2<<30 || s.Limits.CPUs != 0.5 {
		t.Errorf("Decode(MEMORY=2G) = %+v, %v", s.Limits, err)
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]Port{
		"80":           {"tcp", 80, 80},
		"8080:80":      {"tcp", 8080, 80},
		"udp:53":       {"udp", 53, 53},
		"tcp:8443:443": {"tcp", 8443, 443},
	} {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "http", "65536", "tcp:", "sctp:80", "1:2:3", "tcp:1:2:3", "-1", "80:"} {
		if _, err := ParsePort(in); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParsePort(%q) = %v, want ErrInvalidArgument naming it", in, err)
		}
	}
}

func TestNetworkCheck(t *testing.T) {
	n := Network{Ports: []Port{{"tcp", 8080, 80}}}
	if err := n.check(); err != nil || !n.Private || !n.Veth {
		t.Errorf("a port: %+v, %v; want a private network with a veth", n, err)
	}
	n = Network{Zone: "web", Veth: true}
	if err := n.check(); err != nil || !n.Private || n.Veth {
		t.Errorf("a zone: %+v, %v; want a private network, no veth of its own", n, err)
	}
	for what, bad := range map[string]Network{
		"bridge and zone": {Bridge: "br0", Zone: "web"},
		"no such bridge":  {Bridge: "sdme-nosuchbr"},
		"bridge name":     {Bridge: "br/0"},
		"all digits":      {Bridge: "123"},
		"long zone":       {Zone: "abcdefghijklm"},
		"zone name":       {Zone: "a b"},
		"protocol":        {Ports: []Port{{"sctp", 1, 1}}},
		"port zero":       {Ports: []Port{{"tcp", 0, 1}}},
		"same port twice": {Ports: []Port{{"tcp", 80, 80}, {"tcp", 80, 81}}},
	} {
		if err := bad.check(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: check(%+v) = %v, want ErrInvalidArgument", what, bad, err)
		}
	}
	// The same port over tcp and udp is two forwards.
	n = Network{Ports: []Port{{"tcp", 53, 53}, {"udp", 53, 53}}}
	if err := n.check(); err != nil {
		t.Errorf("tcp and udp 53: %v", err)
	}
}

func TestNetworkDecodeRefusesOddFlags(t *testing.T) {
	_, err := Decode(func(k string) string { return map[string]string{"PRIVATE_NETWORK": "maybe"}[k] })
	if !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("PRIVATE_NETWORK=maybe: %v, want ErrCorrupt", err)
	}
}

func TestHostUnits(t *testing.T) {
	for _, c := range []struct {
		n   Network
		end string
	}{
		{Network{}, ""},
		{Network{Private: true}, ""},
		{Network{Bridge: "br0"}, ""},
		{Network{Veth: true}, "ve-..., as nspawn shortens the name"},
		{Network{Ports: []Port{{"tcp", 80, 80}}}, "ve-..., as nspawn shortens the name"},
		{Network{Zone: "web"}, "vz-web"},
	} {
		if c.end == "ve-..., as nspawn shortens the name" {
			// A short name is the interface's own.
			if hu := (&Spec{Network: c.n}).HostUnits("db"); len(hu) != 1 || !strings.Contains(hu[0].Without, "(ve-db)") {
				t.Errorf("%+v: HostUnits(db) = %v", c.n, hu)
			}
		}
		s := Spec{Network: c.n}
		hu := s.HostUnits("a-very-long-name")
		switch {
		case c.end == "" && len(hu) != 0:
			t.Errorf("%+v: HostUnits = %v, want none", c.n, hu)
		case c.end != "" && (len(hu) != 1 || hu[0].Unit != "systemd-networkd.service" || !strings.Contains(hu[0].Without, "("+c.end+")")):
			t.Errorf("%+v: HostUnits = %v, want networkd for %s", c.n, hu, c.end)
		}
	}
}

func TestPodDecode(t *testing.T) {
	if _, err := Decode(func(k string) string { return map[string]string{"POD": "../etc"}[k] }); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("Decode(POD=../etc) = %v, want ErrCorrupt", err)
	}
	s, err := Decode(func(string) string { return "" })
	if err != nil || s.Pod != "" {
		t.Errorf("a state without POD = %q, %v; want no pod", s.Pod, err)
	}
}

func TestPodCheckNamesIt(t *testing.T) {
	s := Spec{Pod: "Bad"}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "pod") || !strings.Contains(err.Error(), `"Bad"`) {
		t.Errorf("Check = %v; want the pod's name", err)
	}
}

func TestAppArmorProfile(t *testing.T) {
	dir := t.TempDir()
	old := appArmorProfiles
	defer func() { appArmorProfiles = old }()
	appArmorProfiles = filepath.Join(dir, "profiles")
	s := Security{AppArmorProfile: "sdme-default"}
	if err := s.check(); err == nil || !strings.Contains(err.Error(), "no AppArmor") {
		t.Errorf("without AppArmor: %v", err)
	}
	os.WriteFile(appArmorProfiles, []byte("docker-default (enforce)\nsdme-default (complain)\n"), 0o644)
	if err := s.check(); err != nil {
		t.Errorf("a loaded profile: %v", err)
	}
	for _, bad := range []string{"other", "a b", "../x", ""} {
		s := Security{AppArmorProfile: bad}
		if err := checkAppArmor(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v (%+v)", bad, err, s)
		}
	}
}
