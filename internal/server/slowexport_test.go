package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/api"
)

// slowClient is a real HTTP client over loopback whose socket buffers
// little, so that reading slowly really slows the server's writes.
func slowClient() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	// An export that cannot start (no free database connection) fails
	// the test rather than hang it.
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true,
		ResponseHeaderTimeout: 10 * time.Second}}
}

// slowExport is one download read at about rate bytes a second (0: not
// at all) until stop; err is how the reading ended.
type slowExport struct {
	status int
	header http.Header
	err    chan error
	read   chan int64
}

func startSlowExport(ctx context.Context, t *testing.T, url, key string, rate int) *slowExport {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.SetBasicAuth("firewall", key)
	resp, err := slowClient().Do(req)
	if err != nil {
		t.Fatalf("start an export: %v", err)
	}
	e := &slowExport{status: resp.StatusCode, header: resp.Header, err: make(chan error, 1), read: make(chan int64, 1)}
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		e.err <- nil
		e.read <- 0
		return e
	}
	go func() {
		defer resp.Body.Close()
		var n int64
		defer func() { e.read <- n }()
		if rate == 0 {
			<-ctx.Done()
			// A stalled reader finally reads: a dropped export ends
			// early, with an error instead of a clean end.
			_, err := io.Copy(io.Discard, resp.Body)
			e.err <- err
			return
		}
		// Pacing, not synchronization: 1/8 of rate every 125 ms.
		tick := time.NewTicker(125 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, rate/8)
		for {
			select {
			case <-ctx.Done():
				e.err <- nil
				return
			case <-tick.C:
			}
			m, err := io.ReadFull(resp.Body, buf)
			n += int64(m)
			if err != nil {
				e.err <- err
				return
			}
		}
	}()
	return e
}

// 20 slow exports at once (2 KB/s each, a real client over loopback) do
// not starve the API or the UI: 100 GET /api/v1/indicators and a UI
// sign-in each answer in under a second, /readyz is ready; an export
// beyond the caps gets 429 with Retry-After; a stalled reader is dropped
// and its place freed. Before, 9 (SQLite) or 10 (PostgreSQL) such exports
// held every database connection and the API hung past 45 s.
func TestSlowExportsDoNotStarveTheAPI(t *testing.T) {
	// The stall limit must outlast starting the 22 exports below on a
	// busy machine (at load 9-12, 6 s did not: the stalled export was
	// dropped before the caps were checked).
	h := startServe(t, "", newFake(t, 5000, nil), func(c *Config) {
		c.Exports = api.ExportLimits{Total: 20, PerKey: 10, Stall: 10 * time.Second, RetryAfter: 7 * time.Second}
	})
	h.configure(nil)
	h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	keys := []string{h.createKey("fw-a", "read"), h.createKey("fw-b", "read")}
	other := h.createKey("fw-c", "read")
	url := h.base + "/api/v1/export/stix?status=Active,Expired,Whitelisted,Review"

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stallCtx, unstall := context.WithCancel(ctx)
	defer unstall()
	var slow []*slowExport
	for i := range 19 {
		slow = append(slow, startSlowExport(ctx, t, url, keys[i%2], 2048))
	}
	// Last, so that it is not dropped before the caps are checked: each
	// key now has 10 exports.
	stalled := startSlowExport(stallCtx, t, url, keys[1], 0)
	for i, e := range append(slow, stalled) {
		if e.status != 200 {
			t.Fatalf("export %d of 20: status %d, want 200", i+1, e.status)
		}
	}

	// Beyond the caps: per key (fw-a has 10), and in all (20).
	for _, k := range []string{keys[0], other} {
		e := startSlowExport(ctx, t, url, k, 0)
		if e.status != http.StatusTooManyRequests || e.header.Get("Retry-After") != "7" {
			t.Errorf("export beyond the caps: status %d, Retry-After %q; want 429 and 7", e.status, e.header.Get("Retry-After"))
		}
	}

	// The API and the UI answer meanwhile.
	fast := &http.Client{Timeout: 10 * time.Second}
	var worst time.Duration
	for i := range 100 {
		start := time.Now()
		req, _ := http.NewRequest("GET", h.base+"/api/v1/indicators?limit=20", nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := fast.Do(req)
		if err != nil {
			t.Fatalf("GET /api/v1/indicators #%d during 20 slow exports: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		worst = max(worst, took)
		if resp.StatusCode != 200 || took >= time.Second {
			t.Errorf("GET /api/v1/indicators #%d: status %d in %s, want 200 in under 1s", i+1, resp.StatusCode, took)
		}
	}
	start := time.Now()
	h.uiClient(h.admin) // fails the test unless the sign-in lands
	signIn := time.Since(start)
	if signIn >= time.Second {
		t.Errorf("UI sign-in took %s during 20 slow exports, want under 1s", signIn)
	}
	if r := h.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("/readyz during 20 slow exports: %d %s", r.status, r.raw)
	}
	t.Logf("during 20 slow exports: worst of 100 GET /api/v1/indicators %s, UI sign-in %s", worst, signIn)

	// The stalled reader is dropped: its place is freed for another.
	waitFor(t, "the stalled export to be dropped", func() bool {
		return strings.Contains(h.logs.String(), "export dropped")
	})
	unstall()
	if err := <-stalled.err; err == nil {
		t.Error("the stalled reader read a complete export: it should have been cut")
	}
	e := startSlowExport(ctx, t, url, other, 0)
	if e.status != 200 {
		t.Errorf("an export after the stalled one was dropped: status %d, want 200", e.status)
	}

	// The slow readers were never dropped.
	stop()
	for i, e := range slow {
		if err := <-e.err; err != nil {
			t.Errorf("slow export %d ended with %v, want it still reading", i+1, err)
		}
		if n := <-e.read; n < 2048 {
			t.Errorf("slow export %d read %d bytes", i+1, n)
		}
	}
	if t.Failed() {
		fmt.Println(h.logs.String())
	}
}
