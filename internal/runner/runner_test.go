package runner

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/secret"
	"forewarn/internal/testutil"
)

const testToken = "tok-RUNNER-51d2"

// panicHandler is a real slog handler that panics on one message: the
// pipeline logs through it, so a panic lands inside a running feed without
// mocking the store.
type panicHandler struct {
	slog.Handler
	on string
}

func (h panicHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.on {
		panic("injected: " + h.on)
	}
	return h.Handler.Handle(ctx, r)
}

func (h panicHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return panicHandler{h.Handler.WithAttrs(as), h.on}
}

func (h panicHandler) WithGroup(g string) slog.Handler {
	return panicHandler{h.Handler.WithGroup(g), h.on}
}

// TestRunPanicFailsTheRun: a panic inside a background run is recovered;
// the run is recorded as failed with a message, the feed is free to run
// again, and the process goes on (a panic in a goroutine would end the test
// binary).
func TestRunPanicFailsTheRun(t *testing.T) {
	st := testutil.Store(t)
	_, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 20, Seed: 3, Token: testToken})
	logs := &testutil.Buffer{}
	text := slog.NewTextHandler(logs, nil)
	base := feed.Options{Token: secret.New(testToken), BackoffBase: time.Millisecond, StageDir: t.TempDir(),
		Override: config.Settings("base_url="+url, "threshold=0")}

	var finished []*activity.Run
	done := make(chan struct{}, 2)
	mgr := New(st, slog.New(panicHandler{text, "run started"}), base, func(r *activity.Run, err error) {
		finished = append(finished, r)
		done <- struct{}{}
	})
	t.Cleanup(func() { _ = mgr.Shutdown(context.Background()) })

	a, err := mgr.Start(feed.Name, Request{Trigger: activity.TriggerManual})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	waitDone(t, a)
	<-done
	got, err := st.Run(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != activity.StatusFailed || !strings.Contains(got.Error, "internal error") || got.FinishedAt == nil {
		t.Fatalf("run after a panic: status %q, error %q, finished %v; want failed with a message", got.Status, got.Error, got.FinishedAt)
	}
	if strings.Contains(got.Error, "injected") {
		t.Errorf("the run record quotes the panic value %q: it belongs in the log only", got.Error)
	}
	if n := strings.Count(logs.String(), "run panicked"); n != 1 {
		t.Errorf("%d log lines about the panic, want 1:\n%s", n, logs)
	}
	if finished[0].Status != activity.StatusFailed {
		t.Errorf("finished callback saw status %q, want failed", finished[0].Status)
	}

	// The feed lock was released: a second run starts (and panics too).
	b, err := mgr.Start(feed.Name, Request{Trigger: activity.TriggerManual})
	if err != nil {
		t.Fatalf("second start after a panicked run: %v", err)
	}
	waitDone(t, b)
}

// TestRunPanicBeforeStart: a panic before the run is recorded makes Start
// return an error instead of waiting for ever.
func TestRunPanicBeforeStart(t *testing.T) {
	st := testutil.Store(t)
	base := feed.Options{Override: func(*config.Seclytics) error { panic("injected before start") }}
	mgr := New(st, slog.New(slog.DiscardHandler), base, nil)
	t.Cleanup(func() { _ = mgr.Shutdown(context.Background()) })
	errc := make(chan error, 1)
	go func() {
		_, err := mgr.Start(feed.Name, Request{Trigger: activity.TriggerManual})
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrPanicked) {
			t.Fatalf("Start: %v, want ErrPanicked", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return within 30s after a panic before the run was recorded")
	}
}

func waitDone(t *testing.T, a *Active) {
	t.Helper()
	select {
	case <-a.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("run not done within 60s")
	}
}
