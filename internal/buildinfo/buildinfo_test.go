package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFrom(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "forewarn", Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "13aba4e0"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, c := range []struct {
		name          string
		bi            *debug.BuildInfo
		stamp, stampT string
		want          Info
	}{
		{"no build information", nil, "", "", Info{"devel", "unknown", "unknown", "unknown"}},
		{"go build in a changed checkout", vcs, "", "", Info{"devel", "13aba4e0-dirty", "2026-12-05T10:00:00Z", "go1.26.8"}},
		{"scripts/release", vcs, "v0.9.0", "2026-12-06T10:30:00Z", Info{"v0.9.0", "13aba4e0-dirty", "2026-12-06T10:30:00Z", "go1.26.8"}},
		{"go install forewarn@v1.0.0", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v1.0.0"}}, "", "", Info{"v1.0.0", "unknown", "unknown", "go1.27.3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, From(c.bi, c.stamp, c.stampT)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// The test binary has build information: Get reads it rather than
// returning the placeholders.
func TestGetReadsTheBinary(t *testing.T) {
	in := Get()
	if !strings.HasPrefix(in.GoVersion, "go1.") {
		t.Errorf("Go version %q, want the toolchain's", in.GoVersion)
	}
	if s := in.String(); !strings.Contains(s, in.GoVersion) || !strings.HasPrefix(s, "forewarn "+in.Version+" ") {
		t.Errorf("String() = %q", s)
	}
}
