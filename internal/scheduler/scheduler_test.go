package scheduler

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"forewarn/internal/config"
)

// recorder counts runs and lets a test hold a run open.
type recorder struct {
	mu    sync.Mutex
	runs  int
	ran   chan string
	block chan struct{} // if non-nil, each run waits on it
}

func newRecorder() *recorder { return &recorder{ran: make(chan string, 100)} }

func (r *recorder) run(feed string) {
	r.mu.Lock()
	r.runs++
	b := r.block
	r.mu.Unlock()
	r.ran <- feed
	if b != nil {
		<-b
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}

func waitRun(t *testing.T, r *recorder) {
	t.Helper()
	select {
	case <-r.ran:
	case <-time.After(5 * time.Second):
		t.Fatal("no run within 5s")
	}
}

func noRun(t *testing.T, r *recorder, d time.Duration) {
	t.Helper()
	select {
	case f := <-r.ran:
		t.Fatalf("unexpected run of %s", f)
	case <-time.After(d):
	}
}

func newTest(t *testing.T, r *recorder, clock clockwork.Clock) *Scheduler {
	t.Helper()
	s, err := NewWithClock(r.run, slog.New(slog.DiscardHandler), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	return s
}

func TestNeverRunFeedRunsSoonAfterEnabling(t *testing.T) {
	r := newRecorder()
	s := newTest(t, r, clockwork.NewRealClock())
	if err := s.Set("seclytics", config.Schedule{Interval: 24 * time.Hour}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r)
	// gocron schedules the next run just after starting the immediate one.
	next, ok := s.NextRun("seclytics")
	for deadline := time.Now().Add(2 * time.Second); (!ok || next.Before(time.Now())) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		next, ok = s.NextRun("seclytics")
	}
	if !ok || next.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("next run %v, %v; want about 24h from now", next, ok)
	}
}

func TestMissedRunsRunOnceAtStartUp(t *testing.T) {
	r := newRecorder()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	s := newTest(t, r, clock)
	// Down for five intervals.
	last := clock.Now().Add(-5 * time.Hour)
	if err := s.Set("seclytics", config.Schedule{Interval: time.Hour}, last); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r)
	noRun(t, r, 300*time.Millisecond)
	if n := r.count(); n != 1 {
		t.Fatalf("%d runs at start-up, want 1", n)
	}
	next, ok := s.NextRun("seclytics")
	if !ok || !next.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("next run %v, want %v", next, clock.Now().Add(time.Hour))
	}
}

func TestIntervalStartsFromLastRun(t *testing.T) {
	r := newRecorder()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	s := newTest(t, r, clock)
	last := clock.Now().Add(-20 * time.Minute)
	if err := s.Set("seclytics", config.Schedule{Interval: time.Hour}, last); err != nil {
		t.Fatal(err)
	}
	noRun(t, r, 200*time.Millisecond)
	want := last.Add(time.Hour)
	if next, ok := s.NextRun("seclytics"); !ok || !next.Equal(want) {
		t.Fatalf("next run %v, want %v", next, want)
	}
	clock.Advance(41 * time.Minute)
	waitRun(t, r)
}

func TestCronSchedule(t *testing.T) {
	r := newRecorder()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	s := newTest(t, r, clock)
	// Ran at 03:00 today; the next 03:00 is tomorrow.
	last := time.Date(2026, 11, 28, 3, 0, 5, 0, time.UTC)
	if err := s.Set("seclytics", config.Schedule{Cron: "0 3 * * *"}, last); err != nil {
		t.Fatal(err)
	}
	noRun(t, r, 200*time.Millisecond)
	want := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	if next, ok := s.NextRun("seclytics"); !ok || !next.Equal(want) {
		t.Fatalf("next run %v, want %v", next, want)
	}
	// Missed yesterday's: runs now.
	if err := s.Set("seclytics", config.Schedule{Cron: "0 3 * * *"}, last.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r)
}

func TestNeverOverlapsItself(t *testing.T) {
	r := newRecorder()
	r.block = make(chan struct{})
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	s := newTest(t, r, clock)
	if err := s.Set("seclytics", config.Schedule{Interval: time.Minute}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r)
	// The run is still going while three more intervals pass.
	for range 3 {
		clock.Advance(time.Minute)
		time.Sleep(50 * time.Millisecond)
	}
	noRun(t, r, 200*time.Millisecond)
	close(r.block)
	if n := r.count(); n != 1 {
		t.Fatalf("%d runs while the first was running, want 1", n)
	}
}

func TestRemoveStopsTheSchedule(t *testing.T) {
	r := newRecorder()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	s := newTest(t, r, clock)
	if err := s.Set("seclytics", config.Schedule{Interval: time.Hour}, clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.Remove("seclytics")
	if _, ok := s.NextRun("seclytics"); ok {
		t.Fatal("a removed feed still has a next run")
	}
	clock.Advance(2 * time.Hour)
	noRun(t, r, 300*time.Millisecond)
}

// A panicking job is logged as an error (gocron alone swallows it
// silently) and the feed keeps its schedule: the next run comes.
func TestPanickingJobIsLoggedAndRunsAgain(t *testing.T) {
	logs := &syncBuffer{}
	ran := make(chan struct{}, 10)
	clock := clockwork.NewFakeClock()
	s, err := NewWithClock(func(string) {
		ran <- struct{}{}
		panic("injected")
	}, slog.New(slog.NewTextHandler(logs, nil)), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	if err := s.Set("seclytics", config.Schedule{Interval: time.Hour}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	wait := func() {
		t.Helper()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("no run within 10s")
		}
	}
	wait() // the immediate first run
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "scheduled job panicked"); {
		if time.Now().After(deadline) {
			t.Fatalf("the panic was not logged:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The next run, an hour on, still comes.
	for deadline := time.Now().Add(10 * time.Second); ; {
		next, ok := s.NextRun("seclytics")
		if ok && next.After(clock.Now()) {
			clock.Advance(next.Sub(clock.Now()) + time.Second)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the feed has no next run after a panic")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wait()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
