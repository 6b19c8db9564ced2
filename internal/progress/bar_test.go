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

func TestNoBarWhenNotATerminal(t *testing.T) {
	var b bytes.Buffer
	bar := Start(&b, &feed.Progress{}, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	bar.Stop()
	if b.Len() != 0 {
		t.Errorf("wrote %q to a non-terminal", b.String())
	}
}
