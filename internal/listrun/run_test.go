package listrun

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// lines is an in-test parser: one address or network per line, # comments.
type lines struct {
	sc       *bufio.Scanner
	line     int64
	read     int64
	invalid  int64
	problems []activity.Problem
}

func parseLines(r io.Reader) Entries { return &lines{sc: bufio.NewScanner(r)} }

func (l *lines) Next() (store.ListEntry, error) {
	for l.sc.Scan() {
		l.line++
		s := strings.TrimSpace(l.sc.Text())
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";") {
			continue
		}
		l.read++
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				l.invalid++
				l.problems = append(l.problems, activity.Problem{Line: l.line, Kind: activity.ProblemInvalid, Message: err.Error()})
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return store.ListEntry{Prefix: p}, nil
	}
	if err := l.sc.Err(); err != nil {
		return store.ListEntry{}, err
	}
	return store.ListEntry{}, io.EOF
}

func (l *lines) Read() int64                  { return l.read }
func (l *lines) Invalid() int64               { return l.invalid }
func (l *lines) Problems() []activity.Problem { return l.problems }

// server serves a list at /drop/drop.txt, with an ETag, honouring
// If-None-Match; gzip when asked.
type server struct {
	mu   sync.Mutex
	body string
	gzip bool
	hits int
	// block, when set, holds each response until it is closed.
	block chan struct{}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, gz, block := s.body, s.gzip, s.block
	s.hits++
	s.mu.Unlock()
	if r.URL.Path != "/drop/drop.txt" {
		http.NotFound(w, r)
		return
	}
	if block != nil {
		<-block
	}
	etag := fmt.Sprintf(`"%d"`, len(body))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		w.Write(b.Bytes())
		return
	}
	io.WriteString(w, body)
}

func (s *server) set(body string, gz bool) {
	s.mu.Lock()
	s.body, s.gzip = body, gz
	s.mu.Unlock()
}

var drop = Feed{ID: "spamhaus-drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90}

func runOnce(t *testing.T, st *store.Store, srv *httptest.Server, f Feed) (*activity.Run, error) {
	t.Helper()
	return Run(context.Background(), st, f, Options{
		Fetcher: &Fetcher{URL: srv.URL + "/drop/drop.txt", Timeout: 10 * time.Second},
		Parse:   parseLines, TempDir: t.TempDir()})
}

func TestListRunOverHTTP(t *testing.T) {
	st := testutil.Store(t)
	ctx := context.Background()
	h := &server{}
	srv := httptest.NewServer(h)
	defer srv.Close()

	h.set("; Spamhaus DROP\n# comment\n192.0.2.0/24\n198.51.100.7\nnot-an-ip\n2001:db8::/32\n", true)
	r, err := runOnce(t, st, srv, drop)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != activity.StatusSucceeded || r.RowsRead != 4 || r.Dropped.Invalid != 1 || r.RowsKept != 3 ||
		r.IndicatorsCreated != 3 || len(r.Problems) != 1 || r.Problems[0].Line != 5 || r.HTTPStatus != 200 {
		t.Fatalf("first run: %+v", r)
	}
	stored, err := st.Run(ctx, r.ID)
	if err != nil || stored.Feed != "spamhaus-drop" || stored.IndicatorsCreated != 3 || stored.Status != activity.StatusSucceeded {
		t.Fatalf("activity log: %+v, %v", stored, err)
	}
	l, err := st.ListedIndicator(ctx, netip.MustParsePrefix("192.0.2.0/24"))
	if err != nil || l.Status != indicator.StatusActive || len(l.Feeds) != 1 || l.Feeds[0].Source != "Spamhaus DROP" {
		t.Fatalf("stored: %+v, %v", l, err)
	}

	// The same body: the server answers 304; nothing is ingested.
	r, err = runOnce(t, st, srv, drop)
	if err != nil || r.Status != activity.StatusUnchanged || r.HTTPStatus != http.StatusNotModified {
		t.Fatalf("unchanged: %+v, %v", r, err)
	}

	// A smaller list, plain: the missing entries are delisted.
	h.set("192.0.2.0/24\n", false)
	r, err = runOnce(t, st, srv, drop)
	if err != nil || r.IndicatorsDelisted != 2 || r.IndicatorsUnchanged != 1 {
		t.Fatalf("shrunk: %+v, %v", r, err)
	}
	if stored, _ := st.Run(ctx, r.ID); stored.IndicatorsDelisted != 2 {
		t.Errorf("activity log keeps %d delisted, want 2", stored.IndicatorsDelisted)
	}
	l, _ = st.ListedIndicator(ctx, netip.MustParsePrefix("198.51.100.7/32"))
	if l.Status != indicator.StatusExpired {
		t.Errorf("delisted by its only feed: %s", l.Status)
	}
}

func TestListRunFailuresChangeNothing(t *testing.T) {
	st := testutil.Store(t)
	ctx := context.Background()
	h := &server{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	h.set("192.0.2.1\n192.0.2.2\n", false)
	if _, err := runOnce(t, st, srv, drop); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		for _, a := range []string{"192.0.2.1/32", "192.0.2.2/32"} {
			if l, err := st.ListedIndicator(ctx, netip.MustParsePrefix(a)); err != nil || !l.Feeds[0].Listed {
				t.Errorf("%s: %s is %+v, %v", what, a, l, err)
			}
		}
	}

	// A corrupt gzip body fails the run and delists nothing.
	h.set("", false)
	h.mu.Lock()
	h.body = "\x1f\x8b\x08\x00garbage"
	h.mu.Unlock()
	r, err := runOnce(t, st, srv, drop)
	if err == nil || r.Status != activity.StatusFailed || !strings.Contains(r.Error, "gzip") {
		t.Fatalf("corrupt body: %+v, %v", r, err)
	}
	check("corrupt body")

	// A body over the cap.
	h.set(strings.Repeat("192.0.2.9\n", 1000), false)
	r, err = Run(ctx, st, drop, Options{Fetcher: &Fetcher{URL: srv.URL + "/drop/drop.txt", MaxBytes: 100}, Parse: parseLines, TempDir: t.TempDir()})
	if !errors.Is(err, ErrTooLarge) || r.Status != activity.StatusFailed {
		t.Fatalf("too large: %+v, %v", r, err)
	}
	check("too large")

	// A 404 names the cause.
	r, err = Run(ctx, st, drop, Options{Fetcher: &Fetcher{URL: srv.URL + "/nope.txt"}, Parse: parseLines})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || r.HTTPStatus != 404 {
		t.Fatalf("404: %+v, %v", r, err)
	}

	// A cancelled run is recorded canceled and changes nothing.
	h.set("192.0.2.3\n", false)
	block := make(chan struct{})
	h.mu.Lock()
	h.block = block
	h.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var cr *activity.Run
	go func() {
		defer close(done)
		cr, err = Run(cctx, st, drop, Options{Fetcher: &Fetcher{URL: srv.URL + "/drop/drop.txt"}, Parse: parseLines,
			OnStart: func(*activity.Run) { cancel() }})
	}()
	<-done
	close(block)
	if !errors.Is(err, context.Canceled) || cr.Status != activity.StatusCanceled {
		t.Fatalf("cancelled: %+v, %v", cr, err)
	}
	check("cancelled")

	// A run in progress (the lock held) refuses a second one.
	lock, err := st.LockFeed(ctx, drop.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	var busy *store.InProgressError
	if _, err := runOnce(t, st, srv, drop); !errors.As(err, &busy) {
		t.Fatalf("second run beside a held lock: %v", err)
	}
}
