package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"forewarn/internal/feed"
)

func TestLine(t *testing.T) {
	got := Line(feed.Snapshot{Phase: feed.PhaseDownload, Bytes: 5 << 20, TotalBytes: 10 << 20, Rows: 1000, Kept: 10}, 2*time.Second)
	for _, want := range []string{"download", "[==========          ]  50%", "5.0 MiB of 10.0 MiB", "1000 rows (500/s)", "10 kept"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	got = Line(feed.Snapshot{Phase: feed.PhaseMerge, Bytes: 2048, TotalBytes: -1, Merged: 7}, 0)
	if !strings.Contains(got, "2.0 KiB") || !strings.Contains(got, "7 merged") || strings.Contains(got, "%") {
		t.Errorf("unknown total: %q", got)
	}
}

// While the download retries, the line says which try failed and why
// instead of "0 B".
func TestLineRetrying(t *testing.T) {
	got := Line(feed.Snapshot{Phase: feed.PhaseDownload, FailedTries: 2, Tries: 5, LastError: "HTTP 503 from https://api.seclytics.com/bulk/x"}, time.Second)
	if !strings.Contains(got, "try 2 of 5 failed, retrying: HTTP 503") || strings.Contains(got, "0 B") {
		t.Errorf("retrying line %q", got)
	}
}

// A log or a pipe gets one plain line as each phase begins and nothing
// else: no redraw, no erase sequence. Stop erases the line only when the
// redraw loop runs, so a loop started for a non-terminal shows up here
// without waiting for it to tick.
func TestNoBarWhenNotATerminal(t *testing.T) {
	var b bytes.Buffer
	p := &feed.Progress{}
	bar := Start(&b, p, time.Nanosecond)
	if p.OnPhase == nil {
		t.Fatal("Start left no phase hook on a non-terminal: a log would not say which phase a run reached")
	}
	p.OnPhase(feed.PhaseMerge) // what the run calls as the merge begins
	bar.Stop()
	got := b.String()
	if strings.ContainsAny(got, "\r\033") {
		t.Errorf("wrote terminal control characters to a non-terminal: %q", got)
	}
	if lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], feed.PhaseMerge+" ") {
		t.Errorf("want one line for the merge phase, got %q", got)
	}
}
