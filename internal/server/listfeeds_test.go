package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// TestServeSchedulesListFeeds: four list feeds enabled before serve starts
// are all due at once; serve runs each (their downloads side by side: the
// publisher answers none until all four asked), every run succeeds, and
// the lookup index then finds a listed network.
func TestServeSchedulesListFeeds(t *testing.T) {
	fixtures := map[string]struct{ path, file string }{
		"spamhaus-drop": {"/drop/drop.txt", "spamhaus-drop/2026-08-12.txt"},
		"feodo":         {"/downloads/ipblocklist.csv", "feodo-ipblocklist-csv/2021-10-25.csv"},
		"dshield":       {"/block.txt", "dshield-block/2026-08-21.txt"},
		"tor-exits":     {"/exit-addresses", "tor-exit-addresses/2018-10-11"},
	}
	bodies := map[string][]byte{}
	for _, f := range fixtures {
		b, err := os.ReadFile("../feeddef/testdata/feeds/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		bodies[f.path] = b
	}
	var arrived sync.WaitGroup
	all := make(chan struct{})
	arrived.Add(len(fixtures))
	go func() { arrived.Wait(); close(all) }()
	var once sync.Map
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if _, again := once.LoadOrStore(r.URL.Path, true); !again {
			arrived.Done()
		}
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			http.Error(w, "the four downloads did not overlap", http.StatusServiceUnavailable)
			return
		}
		w.Write(b)
	}))
	defer pub.Close()

	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id := range fixtures {
		if err := st.SaveListFeedConfig(ctx, id, store.ListFeedConfig{BaseURL: pub.URL}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetFeedEnabled(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	h := startServe(t, db, nil)

	done := map[string]activity.Run{}
	waitFor(t, "the four scheduled list runs to finish", func() bool {
		runs, err := st.Runs(ctx, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if _, ok := fixtures[r.Feed]; ok && r.Status != activity.StatusRunning {
				done[r.Feed] = r
			}
		}
		return len(done) == len(fixtures)
	})
	for id, r := range done {
		if r.Status != activity.StatusSucceeded || r.Trigger != activity.TriggerSchedule || r.IndicatorsCreated == 0 {
			t.Errorf("%s: %s (%s), %d created: %s", id, r.Status, r.Trigger, r.IndicatorsCreated, r.Error)
		}
	}
	// The lookup index follows list runs: an address inside a DROP
	// network is listed.
	waitFor(t, "the lookup index to list 1.10.16.1 (in DROP's 1.10.16.0/20)", func() bool {
		return h.must(200, "GET", "/api/v1/lookup?ip=1.10.16.1", h.admin, nil).body["verdict"] == "listed"
	})
}
