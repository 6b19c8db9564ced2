package seclytics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"forewarn/internal/fakeseclytics"
	"forewarn/internal/secret"
)

const tok = "tok-5ecret-abcdef0123"

func fake(t *testing.T) (*fakeseclytics.Server, string) {
	t.Helper()
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Rows: 200, Seed: 3, Token: tok, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs.URL
}

func client(base string, o Options) *Client {
	o.BaseURL, o.Token = base, secret.New(tok)
	if o.BackoffBase == 0 {
		o.BackoffBase = time.Millisecond
	}
	return New(o)
}

func fetchAll(t *testing.T, c *Client, req Request) (*Response, []byte, error) {
	t.Helper()
	resp, err := c.Fetch(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFetchAndConditionalGet(t *testing.T) {
	srv, base := fake(t)
	resp, body, err := fetchAll(t, client(base, Options{}), Request{Dataset: "A"})
	if err != nil || resp.Status != 200 || len(body) == 0 || resp.ETag == "" || resp.LastModified == "" {
		t.Fatalf("fetch: %+v %d bytes %v", resp, len(body), err)
	}
	resp2, _, err := fetchAll(t, client(base, Options{}), Request{Dataset: "A", ETag: resp.ETag})
	if err != nil || !resp2.NotModified || resp2.Status != 304 {
		t.Fatalf("conditional fetch: %+v %v", resp2, err)
	}
	respB, bodyB, err := fetchAll(t, client(base, Options{}), Request{Dataset: "b"})
	if err != nil || bytes.Equal(body, bodyB) || respB.ETag == resp.ETag {
		t.Fatalf("dataset B served the same as A: %v", err)
	}
	if srv.Requests() != 3 {
		t.Errorf("%d requests, want 3", srv.Requests())
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    fakeseclytics.Fault
		tries    int
		wantErr  string
		requests int
		minWait  time.Duration
	}{
		{"429 with Retry-After, then 200", fakeseclytics.Fault{Status: 429, Times: 1, RetryAfter: "1"}, 5, "", 2, time.Second},
		{"503 twice, then 200", fakeseclytics.Fault{Status: 503, Times: 2}, 5, "", 3, 0},
		{"500 forever", fakeseclytics.Fault{Status: 500}, 4, "after 4 tries", 4, 0},
		{"401 is not retried", fakeseclytics.Fault{Status: 401}, 5, "Seclytics rejected the access token (HTTP 401): Invalid access token: check the access token", 1, 0},
		{"403 names the dataset", fakeseclytics.Fault{Status: 403}, 5, "refused access to dataset A (HTTP 403): Your subscription does not include this dataset", 1, 0},
		{"404 names the dataset", fakeseclytics.Fault{Status: 404}, 5, "no such dump for dataset A", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, base := fake(t)
			srv.SetFault(tc.fault)
			start := time.Now()
			_, _, err := fetchAll(t, client(base, Options{Tries: tc.tries}), Request{Dataset: "A"})
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if srv.Requests() != tc.requests {
				t.Errorf("%d requests, want %d", srv.Requests(), tc.requests)
			}
			if waited := time.Since(start); waited < tc.minWait {
				t.Errorf("waited %v, Retry-After asked for %v", waited, tc.minWait)
			}
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	srv, base := fake(t)
	srv.SetFault(fakeseclytics.Fault{Status: 401})
	if _, _, err := fetchAll(t, client(base, Options{}), Request{Dataset: "A"}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("401 does not wrap ErrUnauthorized: %v", err)
	}
}

func TestBackoffGrowsWithJitterAndIsCapped(t *testing.T) {
	c := New(Options{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	for try, max := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 50; i++ {
			d := c.backoff(try)
			if d < max/2 || d > max {
				t.Fatalf("try %d: backoff %v outside [%v, %v]", try, d, max/2, max)
			}
			seen[d] = true
		}
		if len(seen) < 5 {
			t.Errorf("try %d: no jitter (%d distinct delays)", try, len(seen))
		}
	}
}

func TestConnectionErrorsAreRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = fetchAll(t, client("http://"+addr, Options{Tries: 2}), Request{Dataset: "A"})
	if err == nil || strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "after 2 tries") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("connection refused: %v", err)
	}
	if !strings.Contains(err.Error(), "/bulk/seen-predictions-dump-a.json.gz") {
		t.Errorf("error does not name the (redacted) URL: %v", err)
	}
}

func TestNoToken(t *testing.T) {
	_, err := New(Options{BaseURL: "http://127.0.0.1:1"}).Fetch(context.Background(), Request{Dataset: "A"})
	if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("no token: %v", err)
	}
}

func TestBodyLimitsAndStall(t *testing.T) {
	_, base := fake(t)
	_, _, err := fetchAll(t, client(base, Options{MaxBody: 100}), Request{Dataset: "A"})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the compressed limit: %v", err)
	}

	// A server that sends headers and a few bytes, then nothing.
	var served atomic.Int32
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(200)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer stall.Close()
	start := time.Now()
	_, _, err = fetchAll(t, client(stall.URL, Options{IdleTimeout: 300 * time.Millisecond}), Request{Dataset: "A"})
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("stall: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stall detected after %v", took)
	}
}

// TestRedirectsStayOnTheOrigin: a redirect to another origin is refused
// before any request reaches it; one within the origin is followed.
func TestRedirectsStayOnTheOrigin(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte("ip\n1.2.3.4\n"))
	}))
	t.Cleanup(elsewhere.Close)
	var home *httptest.Server
	home = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/away/"):
			http.Redirect(w, r, elsewhere.URL+"/steal?"+r.URL.RawQuery, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/here/"):
			http.Redirect(w, r, home.URL+"/final"+r.URL.Path, http.StatusFound)
		default:
			_, _ = w.Write([]byte("ip\n1.2.3.4\n"))
		}
	}))
	t.Cleanup(home.Close)

	_, _, err := fetchAll(t, client(home.URL+"/away", Options{Tries: 1}), Request{Dataset: "A"})
	if !errors.Is(err, ErrCrossOriginRedirect) || reached.Load() != 0 || strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "steal") {
		t.Fatalf("cross-origin redirect: err %v, requests to the other origin %d; want ErrCrossOriginRedirect naming only the origin and none", err, reached.Load())
	}
	if _, body, err := fetchAll(t, client(home.URL+"/here", Options{Tries: 1}), Request{Dataset: "A"}); err != nil || string(body) != "ip\n1.2.3.4\n" {
		t.Fatalf("same-origin redirect: %q %v, want the body", body, err)
	}
}

// TestErrorsQuoteNoBody: an error names the status and content type; the
// body is quoted only as a vendor's JSON message on a 4xx.
func TestErrorsQuoteNoBody(t *testing.T) {
	const leak = "aws_secret_access_key=LEAKED"
	for _, tc := range []struct {
		status  int
		ctype   string
		body    string
		want    string
		wantNot string
	}{
		{500, "text/plain", leak, `Content-Type "text/plain"`, "LEAKED"},
		{418, "text/plain", leak, "HTTP 418", "LEAKED"},
		{403, "text/plain", leak, "HTTP 403", "LEAKED"},
		{503, "application/json", `{"message":"` + leak + `"}`, "HTTP 503", "LEAKED"},
		{403, "application/json", `{"error":{"message":"plan does not include B"}}`, "plan does not include B", "Content-Type"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		}))
		_, _, err := fetchAll(t, client(srv.URL, Options{Tries: 1}), Request{Dataset: "A"})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.wantNot) {
			t.Errorf("HTTP %d %s %q: error %v; want it to contain %q and not %q", tc.status, tc.ctype, tc.body, err, tc.want, tc.wantNot)
		}
	}
}
