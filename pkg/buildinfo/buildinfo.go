// Package buildinfo says which build a binary is: its version, the commit it
// was built from and the Go version, for --version and for the
// ticketsys_build_info metric.
package buildinfo

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version may be set at link time (-ldflags "-X
// github.com/ticketsys/ticketsys/pkg/buildinfo.version=v1.2.3"); else the
// module version the go command stamped is used.
var version string

// Info describes one build.
type Info struct {
	Version   string // v1.2.3, a pseudo-version, or "devel"
	Commit    string // the VCS revision, "unknown" outside a checkout
	Modified  bool   // the checkout had uncommitted changes
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	i := Info{Version: version, Commit: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if i.Version == "" {
			i.Version = "devel"
		}
		return i
	}
	i.GoVersion = bi.GoVersion
	if i.Version == "" {
		i.Version = bi.Main.Version
	}
	if i.Version == "" || i.Version == "(devel)" {
		i.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the --version line: "v1.2.3 (commit 0123abc, go1.26.8)".
func (i Info) String() string {
	commit := i.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if i.Modified {
		commit += "+dirty"
	}
	return fmt.Sprintf("%s (commit %s, %s)", i.Version, commit, i.GoVersion)
}

// Collector exports ticketsys_build_info{service,version,commit,goversion} 1,
// so a dashboard can tell which build each instance runs.
func Collector(service string) prometheus.Collector {
	i := Read()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ticketsys_build_info",
		Help: "Always 1; the labels say which build of which service this process runs.",
		ConstLabels: prometheus.Labels{
			"service": service, "version": i.Version, "commit": i.Commit, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}
