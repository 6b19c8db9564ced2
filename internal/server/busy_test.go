package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/testutil"
	"forewarn/internal/testutil/pgtest"
)

// A UI sign-in and an API write during another process's long commit
// (the write lock held past SQLite's 10 s busy timeout) wait for it within
// the request's 30 s budget and succeed, instead of failing with
// SQLITE_BUSY (issue 13 D14).
func TestSignInWaitsForAnotherProcessCommit(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "the write lock and busy timeout are SQLite's")
	h := startServe(t, "", newFake(t, 10, nil))
	release := testutil.HoldWriteLock(t, h.db)
	const hold = 11 * time.Second // past the busy timeout
	start := time.Now()
	time.AfterFunc(hold, release)

	type result struct {
		what   string
		status int
		body   string
	}
	results := make(chan result, 2)
	go func() {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: time.Minute}
		resp, err := c.PostForm(h.base+"/login", url.Values{"key": {h.admin}, "next": {"/allowlist"}})
		if err != nil {
			results <- result{"sign-in", 0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Request.URL.Path != "/allowlist" {
			resp.StatusCode = 0 // not signed in
		}
		results <- result{"sign-in", resp.StatusCode, string(b)}
	}()
	go func() {
		req, _ := http.NewRequest("POST", h.base+"/api/v1/allowlist", strings.NewReader(`{"cidr":"192.0.2.0/24","comment":"test"}`))
		req.Header.Set("Authorization", "Bearer "+h.admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			results <- result{"allow-list add", 0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		results <- result{"allow-list add", resp.StatusCode, string(b)}
	}()
	want := map[string]int{"sign-in": 200, "allow-list add": 201}
	for range 2 {
		r := <-results
		if r.status != want[r.what] {
			t.Errorf("%s while another process held the write lock for %v: status %d, want %d: %.300s", r.what, hold, r.status, want[r.what], r.body)
		}
		if strings.Contains(r.body, "SQLITE") || strings.Contains(r.body, "database is locked") {
			t.Errorf("%s shows the database's own error: %.300s", r.what, r.body)
		}
	}
	if took := time.Since(start); took < hold {
		t.Errorf("both answered after %v, before the lock was released at %v: the check proves nothing", took, hold)
	}
}
