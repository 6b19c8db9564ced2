package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Stamped by scripts/release with -ldflags "-X forewarn/internal/buildinfo.version=v1.2.3
// -X forewarn/internal/buildinfo.buildTime=2026-12-06T10:00:00Z". A plain go
// build leaves them empty and Get falls back to the build information.
var (
	version   string
	buildTime string
)

// Info is what `forewarn version`, /api/v1/version and the UI footer show.
type Info struct {
	Version   string `json:"version"`    // the release tag, or the module version, or "devel"
	Revision  string `json:"revision"`   // the VCS commit, "-dirty" when built from a changed tree; "unknown" without VCS stamping
	BuildTime string `json:"build_time"` // RFC 3339, UTC; the commit time when the build was not stamped; "unknown" when neither is known
	GoVersion string `json:"go_version"` // the toolchain that built the binary
}

// Get reads the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, version, buildTime)
}

// From builds Info from build information (nil when the binary has none)
// and the stamped version and build time (empty when not stamped).
func From(bi *debug.BuildInfo, stampedVersion, stampedTime string) Info {
	in := Info{Version: "devel", Revision: "unknown", BuildTime: "unknown", GoVersion: "unknown"}
	if bi != nil {
		in.GoVersion = bi.GoVersion
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = v
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.BuildTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && in.Revision != "unknown" {
			in.Revision += "-dirty"
		}
	}
	if stampedVersion != "" {
		in.Version = stampedVersion
	}
	if stampedTime != "" {
		in.BuildTime = stampedTime
	}
	return in
}

// String is the line `forewarn version` prints.
func (in Info) String() string {
	return fmt.Sprintf("forewarn %s (revision %s, built %s, %s)", in.Version, in.Revision, in.BuildTime, in.GoVersion)
}
