package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
)

// crashRows sizes the dump of the process tests: large enough that a run
// spends a few seconds in each phase, small enough for CI.
const crashRows = 150_000

// baseline is shared by the process tests: a store that ingested v0 (the
// "before" state of every test run), and what a clean run of v1 over it
// leaves (the "after" state).
type baselineState struct {
	template      string // a store holding v0
	before, after content
	maxWAL        int64 // the largest the WAL grew during the clean v1 run
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
		for !p.exited() {
			b.maxWAL = max(b.maxWAL, fileSize(ref+"-wal"))
			time.Sleep(5 * time.Millisecond)
		}
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
// SIGKILL at several points of a large ingest: while downloading, while
// parsing, while merging into the store and while committing. After each
// kill the database passes PRAGMA integrity_check and holds exactly the
// content before the run or the content after it; the dead run is still
// recorded as running until the next run marks it abandoned; that next run
// completes, and the store then holds what a single clean run produces.
func TestCrashLeavesTheStoreBeforeOrAfter(t *testing.T) {
	b := baseline(t)
	t.Logf("clean run of %d rows: %s, WAL up to %d MiB", crashRows, b.cleanRun.Round(time.Millisecond), b.maxWAL>>20)
	size := int64(len(b.dumps.v1))
	s := newServer(t)
	s.SetBody("a", b.dumps.v1)

	for _, kp := range []struct {
		name  string
		fault fakeseclytics.Fault
		// ready says when to kill, from the bytes the server sent and the
		// size of the write-ahead log.
		ready func(sent, wal int64) bool
	}{
		{"download", fakeseclytics.Fault{Rate: size / 5}, func(sent, wal int64) bool { return sent >= size/3 }},
		{"parse", fakeseclytics.Fault{}, func(sent, wal int64) bool { return sent >= size/2 }},
		{"merge", fakeseclytics.Fault{}, func(sent, wal int64) bool { return sent == size && wal >= b.maxWAL/4 }},
		{"commit", fakeseclytics.Fault{}, func(sent, wal int64) bool { return sent == size && wal >= b.maxWAL*3/4 }},
	} {
		t.Run(kp.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "crash.db")
			copyFile(t, b.template, db)
			s.SetFault(kp.fault)
			s.sent.Store(0)
			p := start(t, runArgs(t, s, db)...)
			var sent, wal int64
			for {
				sent, wal = s.sent.Load(), fileSize(db+"-wal")
				if kp.ready(sent, wal) {
					break
				}
				if p.exited() {
					t.Fatalf("the run ended before the kill point (sent %d of %d bytes, WAL %d bytes): make the dump larger\n%s\n%s",
						sent, size, wal, p.stdout.String(), p.stderr.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			p.cmd.Process.Kill()
			p.wait(t, 10*time.Second)
			s.SetFault(fakeseclytics.Fault{})
			if !strings.Contains(p.err.Error(), "killed") {
				t.Fatalf("the run was not killed: %v\n%s", p.err, p.stdout.String())
			}

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
			t.Logf("killed during %s (sent %d of %d bytes, WAL %d MiB): the store is as %s the run", kp.name, sent, size, wal>>20, state)

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
