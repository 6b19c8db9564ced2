package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Bar redraws a progress line every interval until Stop.
type Bar struct {
	w     io.Writer
	p     *feed.Progress
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// Start draws p on w every interval when w is a terminal. Otherwise (a
// log, a pipe) it writes one line as each phase begins and never redraws:
// the log then says which phase a run reached, with no control characters.
// Call Start before the run begins.
func Start(w io.Writer, p *feed.Progress, interval time.Duration) *Bar {
	b := &Bar{w: w, p: p, start: time.Now(), stop: make(chan struct{})}
	if !IsTerminal(w) {
		p.OnPhase = func(phase string) {
			s := p.Snapshot()
			s.Phase = phase
			fmt.Fprintln(w, Line(s, time.Since(b.start)))
		}
		return b
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				fmt.Fprint(b.w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(b.w, "\r\033[K"+Line(p.Snapshot(), time.Since(b.start)))
			}
		}
	}()
	return b
}

// Stop erases the line and stops drawing.
func (b *Bar) Stop() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
}

// Line formats one progress line.
func Line(s feed.Snapshot, elapsed time.Duration) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-8s ", s.Phase)
	if s.Phase == feed.PhaseDownload && s.Bytes == 0 && s.FailedTries > 0 {
		// Retrying: why nothing arrives, not "0 B".
		fmt.Fprintf(&sb, "try %d of %d failed, retrying: %s", s.FailedTries, s.Tries, s.LastError)
		return sb.String()
	}
	if s.TotalBytes > 0 {
		pct := float64(s.Bytes) / float64(s.TotalBytes)
		const width = 20
		fill := min(int(pct*width), width)
		fmt.Fprintf(&sb, "[%s%s] %3.0f%% ", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct*100)
		fmt.Fprintf(&sb, "%s of %s", activity.HumanBytes(s.Bytes), activity.HumanBytes(s.TotalBytes))
	} else {
		fmt.Fprintf(&sb, "%s", activity.HumanBytes(s.Bytes))
	}
	fmt.Fprintf(&sb, "  %d rows", s.Rows)
	if secs := elapsed.Seconds(); secs > 0.5 {
		fmt.Fprintf(&sb, " (%.0f/s)", float64(s.Rows)/secs)
	}
	fmt.Fprintf(&sb, ", %d kept", s.Kept)
	if s.Phase == feed.PhaseMerge || s.Phase == feed.PhaseCommit {
		fmt.Fprintf(&sb, ", %d merged", s.Merged)
	}
	return sb.String()
}
