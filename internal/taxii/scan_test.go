package taxii_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
)

// gated is the real store whose address scans, once they have read their
// first address, wait until the test opens gate or their request ends
// (then they read on, and notice it). It makes "a scan in progress" a state
// the test can hold, instead of a large store and a guess at its timing.
type gated struct {
	*store.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gated) EachAddress(ctx context.Context, status indicator.Status, fn func(netip.Addr) bool) error {
	first := true
	return g.Store.EachAddress(ctx, status, func(a netip.Addr) bool {
		if first {
			first = false
			g.entered <- struct{}{}
			select {
			case <-g.gate:
			case <-ctx.Done():
			}
		}
		return fn(a)
	})
}

// scanServer is a TAXII server on a store of rows indicators, its scans
// gated, each request's budget cut to budget; it returns the server, the
// gate and a read key.
func scanServer(t *testing.T, rows int, budget time.Duration) (*httptest.Server, *gated, string) {
	t.Helper()
	st, key := ingested(t, rows, 5)
	g := &gated{Store: st, entered: make(chan struct{}, 8), gate: make(chan struct{})}
	mux := http.NewServeMux()
	taxii.New(g, taxii.STIXMapper{}, nil).Register(mux)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), budget)
		defer cancel()
		mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(hs.Close)
	return hs, g, key
}

// getStatus GETs path with the key; a client timeout is a status of 0.
func getStatus(hs *httptest.Server, key, path string) (int, http.Header) {
	req, _ := http.NewRequest("GET", hs.URL+path, nil)
	req.SetBasicAuth("x", key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// waitEntered waits for n scans to hold their first address.
func waitEntered(t *testing.T, g *gated, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("a lookup did not start its scan within 30 s")
		}
	}
}

// objects/{id}/ scans every address: at most MaxObjectScans run at once,
// and one more answers 429 with Retry-After at once instead of taking
// another connection; other TAXII requests are not held up (issue 13 D14).
func TestObjectScansAreBounded(t *testing.T) {
	hs, g, key := scanServer(t, 200, taxii.RequestTimeout)
	coll := taxii.APIRoot + "collections/" + taxii.Collections[1].ID + "/"
	missing := coll + "objects/indicator--00000000-0000-5000-8000-000000000000/"
	results := make(chan int, taxii.MaxObjectScans)
	for range taxii.MaxObjectScans {
		go func() {
			code, _ := getStatus(hs, key, missing)
			results <- code
		}()
	}
	waitEntered(t, g, taxii.MaxObjectScans)

	start := time.Now()
	code, h := getStatus(hs, key, missing)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("a lookup beyond %d in progress: status %d (0: no answer in 10 s), Retry-After %q; want 429 with Retry-After",
			taxii.MaxObjectScans, code, h.Get("Retry-After"))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refused lookup took %v, want an answer at once", took)
	}
	if code, _ := getStatus(hs, key, coll); code != http.StatusOK {
		t.Errorf("the collection while %d lookups scan: status %d, want 200", taxii.MaxObjectScans, code)
	}

	close(g.gate)
	for range taxii.MaxObjectScans {
		if code := <-results; code != http.StatusNotFound {
			t.Errorf("an admitted lookup of a missing id: status %d, want 404", code)
		}
	}
	if code, _ := getStatus(hs, key, missing); code != http.StatusNotFound {
		t.Errorf("a lookup after the scans ended: status %d, want 404 (its slot back)", code)
	}
}

// A scan that outlives the request's budget ends with it: 503, and its
// slot is free for the next lookup.
func TestObjectScanEndsWithBudget(t *testing.T) {
	// More rows than EachAddress reads between looks at its context.
	hs, g, key := scanServer(t, 3000, time.Second)
	coll := taxii.APIRoot + "collections/" + taxii.Collections[1].ID + "/"
	missing := coll + "objects/indicator--00000000-0000-5000-8000-000000000000/"
	for range taxii.MaxObjectScans + 1 {
		start := time.Now()
		code, _ := getStatus(hs, key, missing)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("a lookup whose scan outlives its 1 s budget: status %d, want 503", code)
		}
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("the lookup answered after %v, want about its 1 s budget", took)
		}
		<-g.entered
	}
}
