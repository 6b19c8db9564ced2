package feed

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// TestCancelRollsBackAndRecordsCanceled cancels a run mid-download, as
// SIGINT or SIGTERM would.
func TestCancelRollsBackAndRecordsCanceled(t *testing.T) {
	gz := regenerated(t, 5000, 9)
	started := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
		w.Write(gz[:len(gz)/2])
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}))
	defer hs.Close()
	st, err := store.Open(context.Background(), pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	r, err := Run(ctx, st, Options{
		Token: secret.New(testToken), StageDir: t.TempDir(),
		Override: func(c *config.Seclytics) error { return c.Set("base_url", hs.URL) },
	})
	if err == nil || r == nil || r.Status != activity.StatusCanceled {
		t.Fatalf("canceled run: %+v, %v", r, err)
	}
	stored, _ := st.Run(context.Background(), r.ID)
	if stored.Status != activity.StatusCanceled || stored.FinishedAt == nil {
		t.Errorf("stored: %+v", stored)
	}
	if s, _ := st.Stats(context.Background()); s.Indicators != 0 {
		t.Errorf("a canceled run left %d indicators", s.Indicators)
	}
	// The lock was released: the next run may start.
	lock, err := st.LockFeed(context.Background(), Name)
	if err != nil {
		t.Fatalf("lock after cancel: %v", err)
	}
	lock.Close()
}
