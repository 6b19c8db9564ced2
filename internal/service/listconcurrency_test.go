package service_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
	"forewarn/internal/feeddef"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// fixtures are four built-ins with a snapshot each, by publisher path.
var fixtures = map[string]struct{ path, file string }{
	"spamhaus-drop": {"/drop/drop.txt", "spamhaus-drop/2026-08-12.txt"},
	"feodo":         {"/downloads/ipblocklist.csv", "feodo-ipblocklist-csv/2021-10-25.csv"},
	"dshield":       {"/block.txt", "dshield-block/2026-08-21.txt"},
	"tor-exits":     {"/exit-addresses", "tor-exit-addresses/2018-10-11"},
}

// barrierPublisher serves the four fixtures, holding each response until
// all four requests arrived (or a deadline passed): the downloads overlap
// only if the runs fetch side by side.
func barrierPublisher(t *testing.T) (*httptest.Server, *atomic.Bool) {
	bodies := map[string][]byte{}
	for _, f := range fixtures {
		b, err := os.ReadFile("../feeddef/testdata/feeds/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		bodies[f.path] = b
	}
	var (
		arrived sync.WaitGroup
		all     = make(chan struct{})
		met     atomic.Bool
	)
	arrived.Add(len(fixtures))
	go func() { arrived.Wait(); met.Store(true); close(all) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		arrived.Done()
		select {
		case <-all:
		case <-time.After(20 * time.Second):
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &met
}

// tracking counts the list runs writing to the store at once.
type tracking struct {
	*store.Store
	now, max atomic.Int32
}

func (s *tracking) IngestList(ctx context.Context, run store.ListRun, e store.ListEntries) (store.ListCounts, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		m := s.max.Load()
		if n <= m || s.max.CompareAndSwap(m, n) {
			break
		}
	}
	return s.Store.IngestList(ctx, run, e)
}

// TestListRunsOverlapDownloadsNotCommits: four list runs started together
// download side by side, and write to the store one at a time.
func TestListRunsOverlapDownloadsNotCommits(t *testing.T) {
	ctx := context.Background()
	st := &tracking{Store: testutil.Store(t)}
	svc := service.New(service.Deps{Store: st, Feeds: []string{feed.Name}})
	srv, met := barrierPublisher(t)
	var wg sync.WaitGroup
	runs := make([]*activity.Run, 0, 4)
	var mu sync.Mutex
	for id := range fixtures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := svc.ListRun(ctx, id, service.ListRunOptions{BaseURL: srv.URL, TempDir: t.TempDir()})
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			mu.Lock()
			runs = append(runs, r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if !met.Load() {
		t.Error("the four downloads did not overlap")
	}
	if m := st.max.Load(); m != 1 {
		t.Errorf("%d list runs wrote to the store at once, want 1", m)
	}
	for _, r := range runs {
		if r.Status != activity.StatusSucceeded || r.IndicatorsCreated == 0 {
			t.Errorf("%s: %s, %d created", r.Feed, r.Status, r.IndicatorsCreated)
		}
	}
	if len(runs) != 4 || feeddef.Builtin("tor-exits") == nil {
		t.Fatalf("%d runs", len(runs))
	}
}
