package feed

import "sync/atomic"

// Phases of a run, in order.
const (
	PhaseStarting = "starting"
	PhaseDownload = "download"
	PhaseMerge    = "merge"
	PhaseCommit   = "commit"
	PhaseDone     = "done"
)

// Progress is a running run's live counters, safe to read from another
// goroutine (a progress bar, an API handler).
type Progress struct {
	phase      atomic.Value // string
	bytes      atomic.Int64 // compressed bytes downloaded
	totalBytes atomic.Int64 // Content-Length, or -1
	rows       atomic.Int64 // rows read
	merged     atomic.Int64 // indicators merged
	kept       atomic.Int64

	// OnPhase, when set before the run starts, is called on the run's
	// goroutine as each phase begins: a log without a terminal shows which
	// phase a run was in when it stopped.
	OnPhase func(phase string)
}

// Snapshot is a copy of the counters.
type Snapshot struct {
	Phase      string `json:"phase"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes"`
	Rows       int64  `json:"rows"`
	Kept       int64  `json:"kept"`
	Merged     int64  `json:"merged"`
}

// Snapshot returns the current counters.
func (p *Progress) Snapshot() Snapshot {
	ph, _ := p.phase.Load().(string)
	if ph == "" {
		ph = PhaseStarting
	}
	return Snapshot{Phase: ph, Bytes: p.bytes.Load(), TotalBytes: p.totalBytes.Load(), Rows: p.rows.Load(), Kept: p.kept.Load(), Merged: p.merged.Load()}
}

func (p *Progress) setPhase(s string) {
	p.phase.Store(s)
	if p.OnPhase != nil {
		p.OnPhase(s)
	}
}

// countingReader counts bytes into the progress.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
