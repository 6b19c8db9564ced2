package server

import (
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// httpSeries counts the request-duration series a scrape holds.
func httpSeries(text string) int {
	return strings.Count(text, "\nforewarn_http_request_duration_seconds_count{")
}

// heapInUse is the live Go heap after a full collection: serve runs in
// this process, so what it keeps for good shows here.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// 10,000 requests without a key, each with a made-up 1 KB method and a
// random path, leave the number of series and the heap flat, and a scrape
// small: the labels come from fixed sets. Before, each method became a
// series kept for good (7,000 60 KB methods grew RSS by 374 MB).
func TestMetricsLabelsStayBounded(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	// Every route that answers without a key, once, so that the baseline
	// holds the series the flood may legitimately add.
	for _, p := range []string{"/healthz", "/nope", "/api/v1/nope", "/taxii2/nope"} {
		for _, m := range []string{"GET", "POST", "BOGUS"} {
			req, _ := http.NewRequest(m, h.base+p, nil)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	scrape := func() string { return string(h.must(200, "GET", "/metrics", "", nil).raw) }
	before := scrape()
	heap0 := heapInUse()

	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const n, workers = 10000, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range n / workers {
				req, err := http.NewRequest(randWord(rng, 1024), h.base+"/"+randWord(rng, 64)+"/"+randWord(rng, 16), nil)
				if err != nil {
					errs <- err
					return
				}
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	took := time.Since(start)

	after := scrape()
	heap1 := heapInUse()
	t.Logf("%d requests in %s; series %d -> %d; scrape %d -> %d bytes; heap %.1f -> %.1f MB",
		n, took.Round(time.Millisecond), httpSeries(before), httpSeries(after), len(before), len(after),
		float64(heap0)/1e6, float64(heap1)/1e6)
	if httpSeries(after) > httpSeries(before)+2 { // the scrape itself: GET /metrics 200
		t.Errorf("series grew from %d to %d", httpSeries(before), httpSeries(after))
	}
	if heap1 > heap0+10<<20 {
		t.Errorf("the heap grew by %.1f MB, want under 10 MB", float64(heap1-heap0)/1e6)
	}
	if len(after) > 256<<10 {
		t.Errorf("a scrape is %d bytes, want under 256 KB", len(after))
	}
	if !strings.Contains(after, `method="other",route="unmatched"`) && !strings.Contains(after, `method="other",route="/"`) {
		t.Errorf("the flood is not counted under method other:\n%.2000s", after)
	}
}

func randWord(rng *rand.Rand, n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// Right after serve starts, before any run, every labelled counter of the
// known feeds and statuses is present at 0, so that alerts on increase()
// work from the first run.
func TestMetricsExistFromTheStart(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	text := string(h.must(200, "GET", "/metrics", "", nil).raw)
	for _, want := range []string{
		`forewarn_feed_runs_total{feed="seclytics",status="succeeded"} 0`,
		`forewarn_feed_runs_total{feed="seclytics",status="failed"} 0`,
		`forewarn_feed_runs_total{feed="seclytics",status="unchanged"} 0`,
		`forewarn_feed_runs_total{feed="seclytics",status="canceled"} 0`,
		`forewarn_feed_runs_total{feed="seclytics",status="abandoned"} 0`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="kept"} 0`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="invalid"} 0`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="below_threshold"} 0`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="category"} 0`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="date_window"} 0`,
		`forewarn_feed_run_duration_seconds_count{feed="seclytics"} 0`,
		`forewarn_indicators{status="Active"} 0`,
		`forewarn_indicators{status="Expired"} 0`,
		`forewarn_indicators{status="Whitelisted"} 0`,
		`forewarn_indicators{status="Review"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics before any run lacks %s", want)
		}
	}
}
