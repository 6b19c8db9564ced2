package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
)

// crashRows sizes the dump of the process tests: enough rows that a run
// spends a moment in each phase and readers can overlap its merge, few
// enough that each of the several ingests takes about a second. Which
// phase a kill hit is read from the run's progress lines, not guessed
// from timing or file sizes, so a faster machine cannot make a kill miss
// its phase unnoticed.
const crashRows = 40_000

// baseline is shared by the process tests: a store that ingested v0 (the
// "before" state of every test run), and what a clean run of v1 over it
// leaves (the "after" state).
type baselineState struct {
	template      string // a store holding v0
	before, after content
	cleanRun      time.Duration
	dumps         dumps
}

var (
	baselineOnce sync.Once
	theBaseline  *baselineState
)

func baseline(t *testing.T) *baselineState {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests ingest a large dump several times; skipped with -short")
	}
	binary(t)
	baselineOnce.Do(func() {
		b := &baselineState{dumps: largeDumps(t, crashRows), template: filepath.Join(workDir, "template.db")}
		s := newServer(t)
		s.SetBody("a", b.dumps.v0)
		forewarn(t, 0, runArgs(t, s, b.template)...)
		b.before, _ = export(t, b.template)

		ref := filepath.Join(workDir, "reference.db")
		copyFile(t, b.template, ref)
		s.SetBody("a", b.dumps.v1)
		p := start(t, runArgs(t, s, ref)...)
		if code := p.wait(t, time.Minute); code != 0 || !strings.Contains(p.stdout.String(), "succeeded") {
			t.Fatalf("clean run of v1: exit %d\n%s\n%s", code, p.stdout.String(), p.stderr.String())
		}
		b.cleanRun = p.took
		b.after, _ = export(t, ref)
		if b.before.data == b.after.data || b.after.lines < crashRows/2 {
			t.Fatalf("v1 did not change the store (%d indicators)", b.after.lines)
		}
		theBaseline = b
	})
	if theBaseline == nil {
		t.Fatal("the baseline failed in an earlier test")
	}
	return theBaseline
}

// TestCrashLeavesTheStoreBeforeOrAfter kills `forewarn run seclytics` with
// SIGKILL at several points of an ingest: while downloading, while
// parsing, as the merge into the store begins and as the commit begins.
// The run's progress lines (one per phase on a non-terminal) say which
// phase each kill hit, and the test fails unless it is the one intended.
// After each kill the database passes PRAGMA integrity_check and holds
// exactly the content before the run or the content after it; the dead run
// is still recorded as running until the next run marks it abandoned; that
// next run completes, and the store then holds what a single clean run
// produces.
func TestCrashLeavesTheStoreBeforeOrAfter(t *testing.T) {
	b := baseline(t)
	t.Logf("clean run of %d rows: %s", crashRows, b.cleanRun.Round(time.Millisecond))
	size := int64(len(b.dumps.v1))
	s := newServer(t)
	s.SetBody("a", b.dumps.v1)

	for _, kp := range []struct {
		name, phase string
		fault       fakeseclytics.Fault
		// sent says when to kill during the download, from the bytes the
		// server sent; nil kills as soon as the phase's line appears.
		sent func(int64) bool
	}{
		{"download", feed.PhaseDownload, fakeseclytics.Fault{Rate: size * 2 / 3}, func(n int64) bool { return n >= size/3 }},
		{"parse", feed.PhaseDownload, fakeseclytics.Fault{}, func(n int64) bool { return n >= size/2 }},
		{"merge", feed.PhaseMerge, fakeseclytics.Fault{}, nil},
		{"commit", feed.PhaseCommit, fakeseclytics.Fault{}, nil},
	} {
		t.Run(kp.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "crash.db")
			copyFile(t, b.template, db)
			s.SetFault(kp.fault)
			s.sent.Store(0)
			killed := make(chan struct{})
			var once sync.Once
			kill := func(p *proc) { once.Do(func() { p.cmd.Process.Kill(); close(killed) }) }
			var hook func(*proc, []byte)
			if kp.sent == nil {
				// Killed from the goroutine that reads stderr, the moment the
				// phase's line arrives: the run has at most begun the phase.
				hook = func(p *proc, _ []byte) {
					if lastPhase(p.stderr.String()) == kp.phase {
						kill(p)
					}
				}
			}
			p := startHooked(t, nil, hook, runArgs(t, s, db)...)
			for deadline := time.Now().Add(time.Minute); kp.sent != nil && !kp.sent(s.sent.Load()) && !p.exited() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond) // polls the server's byte count
			}
			if kp.sent != nil {
				kill(p)
			}
			p.wait(t, time.Minute)
			s.SetFault(fakeseclytics.Fault{})
			select {
			case <-killed:
			default:
				t.Fatalf("the run ended before it reached the %s phase\n%s\n%s", kp.phase, p.stdout.String(), p.stderr.String())
			}
			if !strings.Contains(p.err.Error(), "killed") {
				t.Fatalf("the run was not killed (it finished before the kill landed): %v\n%s\n%s", p.err, p.stdout.String(), p.stderr.String())
			}
			if got := lastPhase(p.stderr.String()); got != kp.phase {
				t.Fatalf("killed in the %q phase, want %q:\n%s", got, kp.phase, p.stderr.String())
			}
			sent := s.sent.Load()

			integrityCheck(t, db)
			got, _ := export(t, db)
			state := ""
			switch {
			case got.exact == b.before.exact:
				state = "before"
			case got.data == b.after.data:
				state = "after"
			default:
				t.Fatalf("after a kill during %s the store holds %d indicators matching neither the state before the run (%d) nor after it (%d)",
					kp.name, got.lines, b.before.lines, b.after.lines)
			}
			t.Logf("killed during %s, in the %s phase (sent %d of %d bytes): the store is as %s the run", kp.name, kp.phase, sent, size, state)

			rs := runs(t, db)
			dead := rs[0]
			if dead.Status != activity.StatusRunning || dead.FinishedAt != nil {
				t.Fatalf("the killed run is recorded as %+v, want still running", dead)
			}

			forewarn(t, 0, runArgs(t, s, db)...)
			rs = runs(t, db)
			if rs[0].ID <= dead.ID || (rs[0].Status != activity.StatusSucceeded && rs[0].Status != activity.StatusUnchanged) {
				t.Errorf("the next run: %+v", rs[0])
			}
			for _, r := range rs {
				if r.ID == dead.ID && (r.Status != activity.StatusAbandoned || r.FinishedAt == nil || !strings.Contains(r.Error, "stopped before it finished")) {
					t.Errorf("the killed run after the next start: %s, %q, want abandoned", r.Status, r.Error)
				}
			}
			integrityCheck(t, db)
			final, _ := export(t, db)
			if final.data != b.after.data {
				t.Errorf("after the next run the store differs from a single clean run's (%d vs %d indicators)", final.lines, b.after.lines)
			}
		})
	}
}

// lastPhase is the phase named by the last progress line in a run's
// stderr ("" before the first): without a terminal the run writes one
// line as each phase begins, starting with the phase's name.
func lastPhase(stderr string) string {
	last := ""
	for _, line := range strings.Split(stderr, "\n") {
		switch ph, _, _ := strings.Cut(line, " "); ph {
		case feed.PhaseDownload, feed.PhaseMerge, feed.PhaseCommit, feed.PhaseDone:
			last = ph
		}
	}
	return last
}
