package feed

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/dump"
	"forewarn/internal/dumpgen"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/seclytics"
)

// TestFaults runs the feed against each fault the built-in server can
// inject (docs/reliability.md lists them) and checks four things: the
// outcome, an error message that names the cause (and what to do), a store
// whose content is unchanged by every failing run, and the run record.
func TestFaults(t *testing.T) {
	// A dump that differs from the one ingested first, so that a run that
	// got through would change the store.
	changed := regenerated(t, 2000, 8)
	invalid := func() ([]byte, dumpgen.Stats) {
		var b strings.Builder
		st, err := dumpgen.Generate(context.Background(), &b, nil, dumpgen.Options{Rows: 2000, Seed: 9, InvalidRate: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		return []byte(b.String()), st
	}
	invalidBody, invalidStats := invalid()

	for _, tc := range []struct {
		name     string
		fault    fakeseclytics.Fault
		body     []byte   // served instead of changed
		settings []string // on top of keep-everything settings
		status   activity.Status
		is       error    // the error wraps this
		msg      []string // the message contains each
		requests int      // dump requests the run made; 0: don't check
		within   time.Duration
		check    func(t *testing.T, h *harness, r *activity.Run)
	}{
		{
			name:   "401 fails at once with Seclytics' message",
			fault:  fakeseclytics.Fault{Status: http.StatusUnauthorized},
			status: activity.StatusFailed, is: seclytics.ErrUnauthorized, requests: 1,
			msg: []string{"HTTP 401", "Invalid access token", "check the access token"},
		},
		{
			name:  "403 names the dataset",
			fault: fakeseclytics.Fault{Status: http.StatusForbidden}, settings: []string{"dataset=B"},
			status: activity.StatusFailed, is: seclytics.ErrForbidden, requests: 1,
			msg: []string{"dataset B", "HTTP 403", "Your subscription does not include this dataset", "subscription includes dataset B"},
		},
		{
			name:   "404 names the dataset",
			fault:  fakeseclytics.Fault{Status: http.StatusNotFound},
			status: activity.StatusFailed, is: seclytics.ErrNotFound, requests: 1,
			msg: []string{"dataset A", "HTTP 404", "check the base URL"},
		},
		{
			name:   "429 with Retry-After 1, then 200",
			fault:  fakeseclytics.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 1},
			status: activity.StatusSucceeded, requests: 2,
			check: func(t *testing.T, h *harness, r *activity.Run) {
				if d := r.Duration(); d < 900*time.Millisecond {
					t.Errorf("the run took %s: it did not wait the second Retry-After asked for", d)
				}
				if !strings.Contains(h.logs.String(), "retrying") || !strings.Contains(h.logs.String(), "HTTP 429") {
					t.Errorf("the retry is not logged:\n%s", h.logs.String())
				}
			},
		},
		{
			name:   "500 twice, then 200",
			fault:  fakeseclytics.Fault{Status: http.StatusInternalServerError, Times: 2},
			status: activity.StatusSucceeded, requests: 3,
		},
		{
			name:   "503 twice, then 200",
			fault:  fakeseclytics.Fault{Status: http.StatusServiceUnavailable, Times: 2},
			status: activity.StatusSucceeded, requests: 3,
		},
		{
			name:  "5xx for ever gives up after the configured tries",
			fault: fakeseclytics.Fault{Status: http.StatusBadGateway}, settings: []string{"tries=3"},
			status: activity.StatusFailed, is: seclytics.ErrGaveUp, requests: 3,
			msg: []string{"after 3 tries", "HTTP 502", "raise the tries setting"},
		},
		{
			name:   "connection reset halfway through the body",
			fault:  fakeseclytics.Fault{CutAfter: int64(len(changed) / 2)},
			status: activity.StatusFailed, requests: 1,
			msg: []string{"download interrupted after"},
		},
		{
			name:   "truncated gzip",
			fault:  fakeseclytics.Fault{Mangle: fakeseclytics.MangleTruncate},
			status: activity.StatusFailed, is: dump.ErrCorrupt,
			msg: []string{"the dump is incomplete or corrupt", "ends early", "download the dump again"},
		},
		{
			name:   "corrupt CRC",
			fault:  fakeseclytics.Fault{Mangle: fakeseclytics.MangleCRC},
			status: activity.StatusFailed, is: dump.ErrCorrupt,
			msg: []string{"the dump is incomplete or corrupt", "checksum"},
		},
		{
			name:   "200 with an HTML error page",
			fault:  fakeseclytics.Fault{HTML: true},
			status: activity.StatusFailed, is: dump.ErrNotADump,
			msg: []string{"neither gzip, CSV nor NDJSON", `Content-Type "text/html`, "check the base URL"},
		},
		{
			name:   "200 with an empty body",
			fault:  fakeseclytics.Fault{Body: []byte{}},
			status: activity.StatusSucceeded, check: noRowsWarning,
		},
		{
			name:   "200 with a header only",
			fault:  fakeseclytics.Fault{Body: fakeseclytics.HeaderOnlyBody()},
			status: activity.StatusSucceeded, check: noRowsWarning,
		},
		{
			name:  "stall after the headers fails quickly",
			fault: fakeseclytics.Fault{Stall: true, StallAfter: 1000}, settings: []string{"idle_timeout=300ms", "tries=1"},
			status: activity.StatusFailed, is: seclytics.ErrStalled, within: 10 * time.Second,
			msg: []string{"the download stalled", "no data for 300ms", "idle timeout"},
		},
		{
			name:  "gzip bomb over the decompressed limit",
			fault: fakeseclytics.Fault{Body: fakeseclytics.BombBody(64 << 20)}, settings: []string{"max_decompressed=4MiB"},
			status: activity.StatusFailed, is: dump.ErrLimit,
			msg: []string{"decompressed size limit of 4 MiB", "raise --max-decompressed"},
			check: func(t *testing.T, h *harness, r *activity.Run) {
				if r.RowsRead*150 > 5<<20 {
					t.Errorf("read %d rows of a bomb limited to 4 MiB", r.RowsRead)
				}
			},
		},
		{
			name:  "a line longer than the line limit fails the run",
			fault: fakeseclytics.Fault{Body: fakeseclytics.LongLineBody(3 << 20)}, settings: []string{"max_line=1MiB"},
			status: activity.StatusFailed, is: dump.ErrLimit,
			msg: []string{"line 3 is longer than the line limit of 1 MiB", "raise --max-line"},
		},
		{
			name:   "missing ip column",
			fault:  fakeseclytics.Fault{Body: fakeseclytics.NoIPColumnBody()},
			status: activity.StatusFailed, is: dump.ErrNoIPColumn,
			msg: []string{`dump header has no "ip" column`, "HTTP 200"},
		},
		{
			name: "10% invalid rows", body: invalidBody,
			status: activity.StatusSucceeded,
			check: func(t *testing.T, h *harness, r *activity.Run) {
				if r.RowsRead != int64(invalidStats.Rows) || r.Dropped.Invalid < int64(invalidStats.Rows)/20 || r.Dropped.Invalid > int64(invalidStats.Invalid) {
					t.Errorf("read %d rows, %d invalid; the dump has %d rows, %d malformed", r.RowsRead, r.Dropped.Invalid, invalidStats.Rows, invalidStats.Invalid)
				}
				stored, err := h.st.Run(context.Background(), r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(stored.Problems) != activity.MaxProblems || stored.Dropped.Invalid != r.Dropped.Invalid {
					t.Fatalf("stored run keeps %d problems and %d invalid, want %d and %d", len(stored.Problems), stored.Dropped.Invalid, activity.MaxProblems, r.Dropped.Invalid)
				}
				for i, p := range stored.Problems {
					if p.Line < 2 || (i > 0 && p.Line <= stored.Problems[i-1].Line) || p.Message == "" {
						t.Errorf("problem %d: %+v", i, p)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 2000)
			keep := []string{"threshold=0", "categories=", "context=all"}
			h.mustRun(Options{}, keep...)
			before := h.snapshot()
			body := changed
			if tc.body != nil {
				body = tc.body
			}
			h.srv.SetBody("a", body)
			h.srv.SetBody("b", body)
			h.srv.SetFault(tc.fault)
			requests := h.srv.Requests()

			start := time.Now()
			r, err := h.run(Options{}, append(keep, tc.settings...)...)
			took := time.Since(start)

			if r == nil {
				t.Fatalf("no run record; error %v", err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %s, want %s; error %v", r.Status, tc.status, err)
			}
			stored, serr := h.st.Run(context.Background(), r.ID)
			if serr != nil || stored.Status != tc.status || stored.FinishedAt == nil {
				t.Errorf("stored run: %+v, %v", stored, serr)
			}
			if n := h.srv.Requests() - requests; tc.requests != 0 && n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if tc.within != 0 && took > tc.within {
				t.Errorf("took %s, want under %s", took, tc.within)
			}
			if tc.status == activity.StatusSucceeded {
				if err != nil {
					t.Fatalf("error %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v does not wrap %v", err, tc.is)
				}
				// Internal markers (such as the one that stops retries) are
				// no part of what a person reads.
				if strings.Contains(err.Error(), "permanent") {
					t.Errorf("error %q shows an internal marker", err)
				}
				for _, m := range tc.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
				if r.Error != err.Error() || stored.Error != err.Error() {
					t.Errorf("run record error %q, stored %q; want %q", r.Error, stored.Error, err)
				}
				if after := h.snapshot(); after != before {
					t.Errorf("a failed run changed the store (%d bytes of export before, %d after)", len(before), len(after))
				}
			}
			if tc.check != nil {
				tc.check(t, h, r)
			}
		})
	}
}

func noRowsWarning(t *testing.T, h *harness, r *activity.Run) {
	t.Helper()
	if r.RowsRead != 0 || r.Warnings != 1 || len(r.Problems) != 1 || r.Problems[0].Message != "the dump holds no rows" ||
		!strings.Contains(r.Summary(), "no rows") {
		t.Errorf("run: %+v\n%s", r, r.Summary())
	}
	if r.IndicatorsCreated+r.IndicatorsUpdated != 0 {
		t.Errorf("an empty dump changed %d indicators", r.IndicatorsCreated+r.IndicatorsUpdated)
	}
}

// TestSlowTrickleKeepsWorking serves the dump at 10 KiB/s: far slower than
// a healthy link but never idle for long, so the run must go on to the end
// while the progress it reports moves.
func TestSlowTrickleKeepsWorking(t *testing.T) {
	h := newHarness(t, 0)
	body := regenerated(t, 2300, 3) // about 25 KiB: two to three seconds
	h.srv.SetBody("a", body)
	h.srv.SetFault(fakeseclytics.Fault{Rate: 10 << 10})
	prog := &Progress{}
	var (
		mu   sync.Mutex
		seen []int64
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s := prog.Snapshot()
				mu.Lock()
				if s.Phase == PhaseDownload && (len(seen) == 0 || s.Bytes != seen[len(seen)-1]) {
					seen = append(seen, s.Bytes)
				}
				mu.Unlock()
			}
		}
	}()
	r, err := h.run(Options{Progress: prog}, "threshold=0", "categories=", "idle_timeout=1s")
	close(stop)
	<-done
	if err != nil || r.Status != activity.StatusSucceeded || r.BytesDownloaded != int64(len(body)) {
		t.Fatalf("run: %v, %+v", err, r)
	}
	if len(body) < 20<<10 {
		t.Fatalf("the body is only %d bytes: the test would not trickle", len(body))
	}
	// Ten slices a second of 1 KiB: the progress must have been seen at
	// several distinct, growing values.
	if len(seen) < 5 {
		t.Errorf("progress seen at %d values during the download (%v), want it to move", len(seen), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("progress went back: %v", seen)
		}
	}
}

// A run's live progress counts the failed download tries and keeps the
// last error (without the token), for the activity log to say why nothing
// is downloaded yet.
func TestProgressShowsRetries(t *testing.T) {
	h := newHarness(t, 200)
	h.srv.SetFault(fakeseclytics.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	p := &Progress{}
	if _, err := h.run(Options{Progress: p}, "threshold=0", "categories="); err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot()
	if s.FailedTries != 2 || s.Tries != 5 || !strings.Contains(s.LastError, "HTTP 503") || s.NextTry.IsZero() {
		t.Errorf("progress after two 503s: %d of %d tries failed, last error %q, next try %v; want 2 of 5, the 503, a time", s.FailedTries, s.Tries, s.LastError, s.NextTry)
	}
	if strings.Contains(s.LastError, testToken) {
		t.Errorf("the progress shows the token: %q", s.LastError)
	}
}
