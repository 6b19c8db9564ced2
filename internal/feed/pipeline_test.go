package feed

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil"
)

var runTimes = regexp.MustCompile(`"(created|updated)_at":"[^"]*"`)

// TestPipelinedRunMatchesSerial runs one generated dump, malformed rows
// included, into two fresh stores: read on one goroutine and split on a
// second one. The run's counts, problems (lines and messages, in order)
// and the stored indicators are the same.
func TestPipelinedRunMatchesSerial(t *testing.T) {
	defer func(old int64) { pipelineMin = old }(pipelineMin)
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 20_000, Seed: 15, Token: testToken, InvalidRate: 0.01})
	runWith := func(min int64) (*activity.Run, string) {
		pipelineMin = min
		h := &harness{t: t, st: testutil.Store(t), srv: srv, url: url, logs: &testutil.Buffer{}}
		r := h.mustRun(Options{}, "threshold=0", "categories=", "context=all")
		// When each run happened is all that may differ.
		return r, runTimes.ReplaceAllString(h.snapshot(), `"${1}_at":"T"`)
	}
	serial, serialStore := runWith(-1)
	pipelined, pipelinedStore := runWith(0)
	if serial.RowsRead != 20_000 || serial.Dropped.Invalid == 0 || len(serial.Problems) == 0 {
		t.Fatalf("serial run: %d rows read, %d invalid: not a test of problems in order", serial.RowsRead, serial.Dropped.Invalid)
	}
	type outcome struct {
		Read, Kept, Allowlisted, Warnings int64
		Dropped                           activity.Dropped
		Problems                          []activity.Problem
	}
	of := func(r *activity.Run) outcome {
		return outcome{r.RowsRead, r.RowsKept, r.RowsAllowlisted, r.Warnings, r.Dropped, r.Problems}
	}
	if diff := cmp.Diff(of(serial), of(pipelined)); diff != "" {
		t.Errorf("run outcome (-serial +pipelined):\n%s", diff)
	}
	if serialStore != pipelinedStore {
		a, b := strings.Split(serialStore, "\n"), strings.Split(pipelinedStore, "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Errorf("the stores differ after the serial and the pipelined run, first at line %d:\nserial    %s\npipelined %s", i+1, a[i], b[i])
				break
			}
		}
	}
}
