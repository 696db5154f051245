package ociapp

import (
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/layout"
	"github.com/sdme/sdme/engine/systemd"
)

// ExecArgv is the command that runs argv in the application's root as its
// user: this binary's oci-exec, which the unit and `sdme exec --oci` both
// run (see exec.go for why not systemd's User=).
func (a App) ExecArgv(argv []string) []string {
	out := []string{Helper, "oci-exec",
		"--uid=" + strconv.FormatUint(uint64(a.UID), 10),
		"--gid=" + strconv.FormatUint(uint64(a.GID), 10),
	}
	if len(a.Groups) > 0 {
		gs := make([]string, len(a.Groups))
		for i, g := range a.Groups {
			gs[i] = strconv.FormatUint(uint64(g), 10)
		}
		out = append(out, "--groups="+strings.Join(gs, ","))
	}
	out = append(out, "--workdir="+a.WorkingDir, "--home="+a.Home, "--")
	return append(out, argv...)
}

// Sandbox is how every process of the application is placed: in its own
// root, with the API file systems, the helper, the container's name
// service files (as Docker gives them), and the image's environment, then
// the container's.
func Sandbox() []systemd.Setting {
	return []systemd.Setting{
		systemd.Set("RootDirectory", Root),
		systemd.Set("MountAPIVFS", "yes"),
		systemd.Set("BindReadOnlyPaths", Helper),
		// Optional: a container may lack any of them.
		systemd.Set("BindReadOnlyPaths", "-/etc/resolv.conf -/etc/hosts -/etc/hostname"),
		systemd.Set("EnvironmentFile", "-"+EnvFile),
		systemd.Set("EnvironmentFile", "-"+ContainerEnvFile),
	}
}

// VolumeBinds binds the volumes nspawn put at VolumesDir into the
// application's root. systemd resolves each target inside the root, so
// that a symlink of the image on the way stays in it.
func VolumeBinds(volumes []string) []systemd.Setting {
	var out []systemd.Setting
	for _, v := range volumes {
		out = append(out, systemd.Set("BindPaths", VolumesDir+"/"+layout.VolumeName(v)+":"+v))
	}
	return out
}

// Unit returns the text of the application's service.
func (a App) Unit() (string, error) {
	svc := []systemd.Setting{systemd.Set("Type", "exec")}
	svc = append(svc, Sandbox()...)
	// The journal would name the helper; the log is the application's.
	svc = append(svc, systemd.Set("SyslogIdentifier", path.Base(a.Argv[0])))
	svc = append(svc, systemd.Exec("ExecStart", "", a.ExecArgv(a.Argv)))
	// The stop signal to oci-exec alone, which passes it on (see Run).
	svc = append(svc, systemd.Set("KillMode", "mixed"))
	// oci-exec ends as the application did where it can (SIGTERM, SIGINT,
	// SIGHUP), and otherwise exits 128+N: death by SIGPIPE, or by the
	// image's stop signal, is a clean end, as systemd counts it.
	success := "141"
	if a.StopSignal != "" {
		svc = append(svc, systemd.Set("KillSignal", a.StopSignal))
		success += " " + strconv.Itoa(128+int(unix.SignalNum(a.StopSignal)))
	}
	svc = append(svc, systemd.Set("SuccessExitStatus", success))
	return systemd.RenderDropin([]systemd.Section{
		{Name: "Unit", Settings: []systemd.Setting{
			systemd.Set("Description", "OCI application "+a.Image),
			systemd.Set("After", "network.target systemd-resolved.service"),
		}},
		{Name: "Service", Settings: svc},
		{Name: "Install", Settings: []systemd.Setting{systemd.Set("WantedBy", "multi-user.target")}},
	})
}

// EnvFileContent renders KEY=VALUE pairs as an EnvironmentFile: each value
// in double quotes, in which systemd takes \", \\, \` and \$ as the
// character itself and keeps everything else, newlines included, as it is.
func EnvFileContent(env []string) []byte {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString(k)
		b.WriteString(`="`)
		for _, r := range v {
			if strings.ContainsRune("\"\\`$", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteString("\"\n")
	}
	return []byte(b.String())
}
