package fakeseclytics

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"forewarn/internal/dumpgen"
)

const testToken = "s3cret-token"

func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

var client = &http.Client{Timeout: 10 * time.Second}

// get fetches url with the given request headers (name, value pairs).
func get(t *testing.T, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

func dumpURL(base, path, token string) string {
	if token == "" {
		return base + path
	}
	return base + path + "?access_token=" + token
}

func wantError(t *testing.T, r response, status int, message string) {
	t.Helper()
	want := `{"error":{"code":` + strconv.Itoa(status) + `,"message":"` + message + `"}}`
	if r.status != status || string(r.body) != want {
		t.Errorf("got %d %s, want %d %s", r.status, r.body, status, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

func gunzipLines(t *testing.T, z []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func quotedSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestAccessToken(t *testing.T) {
	for _, c := range []struct {
		name       string
		configured string
		sent       string
		want       int
	}{
		{"missing token", "", "", http.StatusUnauthorized},
		{"any token accepted", "", "whatever", http.StatusOK},
		{"right token", testToken, testToken, http.StatusOK},
		{"wrong token", testToken, "s3cret-tokeX", http.StatusUnauthorized},
		{"missing configured token", testToken, "", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, base := startServer(t, Options{Rows: 10, Seed: 1, Token: c.configured})
			r := get(t, dumpURL(base, PathA, c.sent))
			if c.want == http.StatusUnauthorized {
				wantError(t, r, http.StatusUnauthorized, "Invalid access token")
				if bytes.Contains(r.body, []byte(testToken)) {
					t.Error("the error body echoes the token")
				}
				return
			}
			if r.status != c.want {
				t.Errorf("status %d, want %d", r.status, c.want)
			}
		})
	}
}

func TestServesDatasetsAAndB(t *testing.T) {
	const rows = 3000
	s, base := startServer(t, Options{Rows: rows, Seed: 5, Token: testToken, InvalidRate: 0.01})
	a := get(t, dumpURL(base, PathA, testToken))
	b := get(t, dumpURL(base, PathB, testToken))
	for _, r := range []response{a, b} {
		if r.status != http.StatusOK || r.err != nil {
			t.Fatalf("status %d, read error %v", r.status, r.err)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/gzip" {
			t.Errorf("Content-Type = %q, want application/gzip", ct)
		}
	}
	linesA, linesB := gunzipLines(t, a.body), gunzipLines(t, b.body)
	st := s.Stats()
	if len(linesA) != rows+1 || st.Rows != rows {
		t.Errorf("A has %d lines and Stats.Rows = %d, want %d rows and a header", len(linesA), st.Rows, rows)
	}
	if len(linesB) != st.RowsB+1 || st.RowsB == 0 || st.RowsB >= rows/2 {
		t.Errorf("B has %d lines, Stats.RowsB = %d", len(linesB), st.RowsB)
	}
	// B is A's high-importance rows in order: a subsequence of A.
	j := 0
	for _, l := range linesA {
		if j < len(linesB) && l == linesB[j] {
			j++
		}
	}
	if j != len(linesB) {
		t.Errorf("B is not a subsequence of A: matched %d of %d lines", j, len(linesB))
	}

	// The same options give the same bytes from a fresh server.
	_, base2 := startServer(t, Options{Rows: rows, Seed: 5, Token: testToken, InvalidRate: 0.01})
	if a2 := get(t, dumpURL(base2, PathA, testToken)); !bytes.Equal(a.body, a2.body) {
		t.Error("two servers with the same options serve different dumps")
	}
}

func TestConditionalRequests(t *testing.T) {
	_, base := startServer(t, Options{Rows: 200, Seed: 2, Token: testToken})
	url := dumpURL(base, PathA, testToken)
	first := get(t, url)
	etag := first.header.Get("ETag")
	if want := quotedSHA256(first.body); etag != want {
		t.Fatalf("ETag = %q, want the quoted SHA-256 of the body %q", etag, want)
	}
	lastMod := first.header.Get("Last-Modified")
	if want := dumpgen.DefaultEnd.Format(http.TimeFormat); lastMod != want {
		t.Errorf("Last-Modified = %q, want %q", lastMod, want)
	}

	for _, c := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"matching If-None-Match", []string{"If-None-Match", etag}, http.StatusNotModified},
		{"other If-None-Match", []string{"If-None-Match", `"0123"`}, http.StatusOK},
		{"If-Modified-Since Last-Modified", []string{"If-Modified-Since", lastMod}, http.StatusNotModified},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", dumpgen.DefaultEnd.Add(-time.Hour).Format(http.TimeFormat)}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, url, c.headers...)
			if r.status != c.want {
				t.Fatalf("status %d, want %d", r.status, c.want)
			}
			if c.want == http.StatusNotModified && len(r.body) != 0 {
				t.Errorf("304 with a %d-byte body", len(r.body))
			}
			if c.want == http.StatusOK && !bytes.Equal(r.body, first.body) {
				t.Error("body differs from the first download")
			}
		})
	}
}

func TestValidatorsCanBeTurnedOff(t *testing.T) {
	s, base := startServer(t, Options{Rows: 20, Seed: 2, NoETag: true, NoLastModified: true})
	url := dumpURL(base, PathB, "tok")
	r := get(t, url)
	if r.status != http.StatusOK || r.header.Get("ETag") != "" || r.header.Get("Last-Modified") != "" {
		t.Fatalf("status %d, ETag %q, Last-Modified %q; want 200 without validators",
			r.status, r.header.Get("ETag"), r.header.Get("Last-Modified"))
	}
	if r := get(t, url, "If-None-Match", quotedSHA256(r.body)); r.status != http.StatusOK {
		t.Errorf("If-None-Match without ETag: status %d, want 200", r.status)
	}

	s.SetETag(true)
	r = get(t, url)
	if r.header.Get("ETag") != quotedSHA256(r.body) || r.header.Get("Last-Modified") != "" {
		t.Errorf("after SetETag(true): ETag %q, Last-Modified %q", r.header.Get("ETag"), r.header.Get("Last-Modified"))
	}
	s.SetETag(false)
	s.SetLastModified(true)
	r = get(t, url)
	if r.header.Get("ETag") != "" || r.header.Get("Last-Modified") == "" {
		t.Errorf("after SetLastModified(true): ETag %q, Last-Modified %q", r.header.Get("ETag"), r.header.Get("Last-Modified"))
	}
}

func TestSetBody(t *testing.T) {
	s, base := startServer(t, Options{Rows: 50, Seed: 3})
	url := dumpURL(base, PathA, "tok")
	before := get(t, url)
	body := []byte("not even gzip")
	s.SetBody("a", body)
	body[0] = 'X' // the server keeps its own copy

	r := get(t, url, "If-None-Match", before.header.Get("ETag"), "If-Modified-Since", before.header.Get("Last-Modified"))
	if r.status != http.StatusOK || string(r.body) != "not even gzip" {
		t.Fatalf("after SetBody: %d %q, want 200 with the new body", r.status, r.body)
	}
	if r.header.Get("ETag") != quotedSHA256(r.body) {
		t.Errorf("ETag %q does not follow the new body", r.header.Get("ETag"))
	}
	if r := get(t, url, "If-None-Match", r.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("new ETag: status %d, want 304", r.status)
	}
	if b := get(t, dumpURL(base, PathB, "tok")); b.status != http.StatusOK || bytes.Equal(b.body, r.body) {
		t.Errorf("SetBody(\"a\") changed dataset B")
	}
}

func TestFaults(t *testing.T) {
	t.Run("status then clears", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 20, Seed: 1, Token: testToken})
		url := dumpURL(base, PathA, testToken)
		s.SetFault(Fault{Status: http.StatusServiceUnavailable, Times: 2, RetryAfter: "120"})
		for range 2 {
			r := get(t, url)
			wantError(t, r, http.StatusServiceUnavailable, "Internal server error")
			if got := r.header.Get("Retry-After"); got != "120" {
				t.Errorf("Retry-After = %q, want 120", got)
			}
		}
		if r := get(t, url); r.status != http.StatusOK || r.header.Get("Retry-After") != "" {
			t.Errorf("third request: status %d, Retry-After %q; want the fault cleared", r.status, r.header.Get("Retry-After"))
		}
		if got := s.Requests(); got != 3 {
			t.Errorf("Requests() = %d, want 3", got)
		}
	})

	t.Run("status forever", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 20, Seed: 1})
		s.SetFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})
		for range 3 {
			wantError(t, get(t, dumpURL(base, PathB, "tok")), http.StatusTooManyRequests, "Rate limit exceeded")
		}
		s.SetFault(Fault{})
		if r := get(t, dumpURL(base, PathB, "tok")); r.status != http.StatusOK {
			t.Errorf("after SetFault(Fault{}): status %d, want 200", r.status)
		}
	})

	t.Run("status messages", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 20, Seed: 1})
		for status, msg := range map[int]string{
			401: "Invalid access token",
			403: "Your subscription does not include this dataset",
			404: "Not found",
			429: "Rate limit exceeded",
			500: "Internal server error",
			502: "Internal server error",
		} {
			s.SetFault(Fault{Status: status, Times: 1})
			wantError(t, get(t, dumpURL(base, PathA, "tok")), status, msg)
		}
	})

	t.Run("fault comes before the token check", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 20, Seed: 1, Token: testToken})
		s.SetFault(Fault{Status: http.StatusBadGateway, Times: 1})
		wantError(t, get(t, dumpURL(base, PathA, "")), http.StatusBadGateway, "Internal server error")
		wantError(t, get(t, dumpURL(base, PathA, "")), http.StatusUnauthorized, "Invalid access token")
	})

	t.Run("cut after", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 2000, Seed: 1})
		full := get(t, dumpURL(base, PathA, "tok"))
		s.SetFault(Fault{CutAfter: 1000, Times: 1})
		r := get(t, dumpURL(base, PathA, "tok"))
		if r.status != http.StatusOK || !errors.Is(r.err, io.ErrUnexpectedEOF) {
			t.Fatalf("status %d, read error %v; want 200 and an unexpected EOF", r.status, r.err)
		}
		if len(r.body) != 1000 || !bytes.Equal(r.body, full.body[:1000]) {
			t.Errorf("read %d bytes before the cut, want the first 1000 of the dump", len(r.body))
		}
		if r.header.Get("ETag") != full.header.Get("ETag") {
			t.Errorf("cut response ETag %q, want the dump's %q", r.header.Get("ETag"), full.header.Get("ETag"))
		}
		if r := get(t, dumpURL(base, PathA, "tok")); r.err != nil || !bytes.Equal(r.body, full.body) {
			t.Errorf("after the cut: read error %v, %d bytes; want the whole dump", r.err, len(r.body))
		}
	})

	t.Run("html page", func(t *testing.T) {
		s, base := startServer(t, Options{Rows: 20, Seed: 1})
		s.SetFault(Fault{HTML: true, Times: 1})
		r := get(t, dumpURL(base, PathA, "tok"))
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
			!bytes.HasPrefix(r.body, []byte("<!DOCTYPE html>")) {
			t.Errorf("got %d %q %.40q, want 200 with an HTML page", r.status, r.header.Get("Content-Type"), r.body)
		}
	})
}

func TestUnknownPaths(t *testing.T) {
	s, base := startServer(t, Options{Rows: 5, Seed: 1})
	for _, path := range []string{"/", "/bulk/seen-predictions-dump-c.json.gz", "/bulk/seen-predictions-dump-a.json"} {
		wantError(t, get(t, dumpURL(base, path, "tok")), http.StatusNotFound, "Not found")
	}
	if got := s.Requests(); got != 0 {
		t.Errorf("Requests() = %d after unknown paths only, want 0", got)
	}
	resp, err := client.Post(dumpURL(base, PathA, "tok"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q; want 405 allowing GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestServesGivenFiles(t *testing.T) {
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a.gz")
	if err := os.WriteFile(fileA, []byte("a real dump"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, base := startServer(t, Options{FileA: fileA})
	if r := get(t, dumpURL(base, PathA, "tok")); r.status != http.StatusOK || string(r.body) != "a real dump" {
		t.Errorf("A: %d %q, want the given file", r.status, r.body)
	}
	wantError(t, get(t, dumpURL(base, PathB, "tok")), http.StatusForbidden, "Your subscription does not include this dataset")
	if s.Stats() != (dumpgen.Stats{}) {
		t.Errorf("Stats() = %+v for given files, want zero", s.Stats())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fileA); err != nil {
		t.Errorf("Close removed the given file: %v", err)
	}
}

func TestDumpsAreCachedInDir(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Rows: 500, Seed: 8, Dir: dir}
	s1, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Fatalf("Dir holds %q, want two dumps and their metadata", files)
	}
	infos := map[string]time.Time{}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		infos[f] = fi.ModTime()
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	// Make any rewrite visible in the modification times.
	past := time.Now().Add(-time.Hour)
	for f := range infos {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
		infos[f] = past.Truncate(time.Second)
	}

	s2, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if diff := cmp.Diff(s1.Stats(), s2.Stats()); diff != "" {
		t.Errorf("cached Stats differ (-first +second):\n%s", diff)
	}
	for f, mod := range infos {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("Close removed a cached dump: %v", err)
		}
		if !fi.ModTime().Truncate(time.Second).Equal(mod) {
			t.Errorf("%s was rewritten although cached", filepath.Base(f))
		}
	}

	opts.Seed = 9
	s3, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 6 {
		t.Errorf("another seed left %d files, want 6", len(files))
	}
}

func TestCloseRemovesTemporaryDumps(t *testing.T) {
	s, err := New(context.Background(), Options{Rows: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.tempDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temporary directory: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, Stat(%s) = %v, want not exist", dir, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(context.Background(), Options{Rows: -1}); !errors.Is(err, dumpgen.ErrInvalidOptions) {
		t.Errorf("New with Rows -1 = %v, want dumpgen.ErrInvalidOptions", err)
	}
	if _, err := New(context.Background(), Options{FileA: filepath.Join(t.TempDir(), "missing.gz")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New with a missing FileA = %v, want os.ErrNotExist", err)
	}
}

// lineWriter hands each write of Run's output to the test.
type lineWriter struct{ lines chan string }

func (w lineWriter) Write(p []byte) (int, error) {
	w.lines <- string(p)
	return len(p), nil
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := lineWriter{lines: make(chan string, 10)}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "127.0.0.1:0", Options{Rows: 100, Seed: 1, Token: testToken}, out) }()

	var line string
	select {
	case line = <-out.lines:
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run printed nothing within 10s")
	}
	m := regexp.MustCompile(`^fake-seclytics listening on (http://127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("Run printed %q, want one line with the URL", line)
	}
	base := m[1]
	r := get(t, dumpURL(base, PathA, testToken))
	if r.status != http.StatusOK || len(gunzipLines(t, r.body)) != 101 {
		t.Fatalf("GET from Run's server: %d, %d bytes", r.status, len(r.body))
	}
	if strings.Contains(line, testToken) {
		t.Error("Run printed the token")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
	}
	select {
	case extra := <-out.lines:
		t.Errorf("Run printed more: %q", extra)
	default:
	}
	if _, err := http.Get(dumpURL(base, PathA, testToken)); err == nil {
		t.Error("the server still answers after Run returned")
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:8080", "example.com:80"} {
		err := Run(context.Background(), addr, Options{Rows: 1}, io.Discard)
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Run(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
}

func TestServeHead(t *testing.T) {
	_, base := startServer(t, Options{Rows: 100, Seed: 1})
	full := get(t, dumpURL(base, PathA, "tok"))
	resp, err := client.Head(dumpURL(base, PathA, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(full.body)) {
		t.Errorf("HEAD: %d, Content-Length %d, want 200 and %d", resp.StatusCode, resp.ContentLength, len(full.body))
	}
	// A HEAD answer is followed by the dump itself on GET.
	zr, err := gzip.NewReader(bytes.NewReader(full.body))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ip,predicted_at,") {
		t.Errorf("first line %q, want the CSV header", sc.Text())
	}
}
