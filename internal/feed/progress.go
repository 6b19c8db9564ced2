package feed

import (
	"sync/atomic"
	"time"
)

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
	// The download's failed tries while it is retrying: how many, of how
	// many, the last one's error and when the next try starts.
	failed    atomic.Int64
	tries     atomic.Int64
	lastError atomic.Value // string
	nextTry   atomic.Int64 // Unix nanoseconds

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
	// FailedTries is how many download tries failed so far (0 while none
	// did), of Tries; LastError is the last failure (it never holds the
	// token) and NextTry when the next try starts.
	FailedTries int64     `json:"failed_tries,omitempty"`
	Tries       int64     `json:"tries,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	NextTry     time.Time `json:"next_try,omitzero"`
}

// Snapshot returns the current counters.
func (p *Progress) Snapshot() Snapshot {
	ph, _ := p.phase.Load().(string)
	if ph == "" {
		ph = PhaseStarting
	}
	s := Snapshot{Phase: ph, Bytes: p.bytes.Load(), TotalBytes: p.totalBytes.Load(), Rows: p.rows.Load(), Kept: p.kept.Load(), Merged: p.merged.Load(),
		FailedTries: p.failed.Load(), Tries: p.tries.Load()}
	s.LastError, _ = p.lastError.Load().(string)
	if n := p.nextTry.Load(); n != 0 {
		s.NextTry = time.Unix(0, n).UTC()
	}
	return s
}

// retrying records a failed download try that will be retried.
func (p *Progress) retrying(try, tries int, wait time.Duration, err error) {
	p.lastError.Store(err.Error())
	p.nextTry.Store(time.Now().Add(wait).UnixNano())
	p.tries.Store(int64(tries))
	p.failed.Store(int64(try))
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
