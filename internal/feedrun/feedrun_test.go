package feedrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"forewarn/internal/activity"
	"forewarn/internal/feeddef"
	"forewarn/internal/listrun"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// publisher serves one body at one path, as a publisher does: an ETag, a
// 304 to a matching If-None-Match, 404 elsewhere.
type publisher struct {
	mu   sync.Mutex
	path string
	body []byte
	// query, when set, is the access_token the server requires.
	query string
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	path, body, query := p.path, p.body, p.query
	p.mu.Unlock()
	if r.URL.Path != path {
		http.NotFound(w, r)
		return
	}
	if query != "" && r.URL.Query().Get("access_token") != query {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Write(body)
}

func (p *publisher) serve(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.body = b
	p.mu.Unlock()
}

func prefix(s string) netip.Prefix {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p
	}
	a := netip.MustParseAddr(s)
	return netip.PrefixFrom(a, a.BitLen())
}

// TestBuiltinsEndToEnd runs built-in feeds against their real snapshots
// (internal/feeddef/testdata/feeds) served at the publisher's path on a
// loopback server: the counts are those the fixtures were counted to
// give (see feeddef's fixtures_test.go), the second snapshot delists what
// it dropped, and an unchanged body is not ingested again.
func TestBuiltinsEndToEnd(t *testing.T) {
	cases := []struct {
		id, dir             string
		snap1, snap2        string
		unique1, invalid1   int64
		added, removed      int64
		someAdded, someGone string
	}{
		{"spamhaus-drop", "spamhaus-drop", "2026-08-12.txt", "2026-08-22.txt", 1686, 0, 17, 5, "103.163.162.0/23", "103.192.184.0/22"},
		{"feodo", "feodo-ipblocklist-csv", "2021-10-25.csv", "2021-12-20.csv", 448, 0, 529, 249, "1.234.65.61", "103.113.105.126"},
		{"dshield", "dshield-block", "2023-01-01.txt", "2026-08-21.txt", 20, 1, 19, 19, "146.88.241.0/24", "146.88.240.0/24"},
		{"tor-exits", "tor-exit-addresses", "2018-10-11", "2024-03-12", 859, 0, 338, 804, "102.130.113.9", "103.234.220.195"},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			ctx := context.Background()
			st := testutil.Store(t)
			d := feeddef.Builtin(c.id)
			if d == nil {
				t.Fatalf("no built-in %s", c.id)
			}
			pub := &publisher{path: d.Fetch.Path}
			srv := httptest.NewServer(pub)
			defer srv.Close()
			cfg := store.ListFeedConfig{BaseURL: srv.URL}
			dir := filepath.Join("..", "feeddef", "testdata", "feeds", c.dir)
			run := func(what string) *activity.Run {
				t.Helper()
				r, err := Run(ctx, st, d, cfg, listrun.Options{TempDir: t.TempDir()})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return r
			}

			pub.serve(t, filepath.Join(dir, c.snap1))
			r := run("first snapshot")
			if r.Status != activity.StatusSucceeded || r.IndicatorsCreated != c.unique1 || r.Dropped.Invalid != c.invalid1 || r.IndicatorsDelisted != 0 {
				t.Fatalf("first snapshot: %s, %d created, %d invalid, %d delisted; want %d created, %d invalid",
					r.Status, r.IndicatorsCreated, r.Dropped.Invalid, r.IndicatorsDelisted, c.unique1, c.invalid1)
			}
			if c.invalid1 > 0 && (len(r.Problems) != int(c.invalid1) || r.Problems[0].Line == 0) {
				t.Errorf("first snapshot's problems: %+v", r.Problems)
			}

			pub.serve(t, filepath.Join(dir, c.snap2))
			r = run("second snapshot")
			if r.Status != activity.StatusSucceeded || r.IndicatorsCreated != c.added || r.IndicatorsDelisted != c.removed {
				t.Fatalf("second snapshot: %s, %d created, %d delisted; want %d, %d", r.Status, r.IndicatorsCreated, r.IndicatorsDelisted, c.added, c.removed)
			}
			for _, want := range []struct {
				addr   string
				listed bool
			}{{c.someAdded, true}, {c.someGone, false}} {
				l, err := st.ListedIndicator(ctx, prefix(want.addr))
				if err != nil || len(l.Feeds) != 1 || l.Feeds[0].Listed != want.listed || l.Feeds[0].Source != d.Source {
					t.Errorf("%s: %+v, %v; want listed %v by %s", want.addr, l, err, want.listed, d.Source)
				}
			}

			if r := run("unchanged"); r.Status != activity.StatusUnchanged || r.HTTPStatus != http.StatusNotModified {
				t.Errorf("unchanged body: %s, HTTP %d", r.Status, r.HTTPStatus)
			}
		})
	}
}

// TestSecretNeverShown: a feed authenticating with a query token sends it,
// and an error of a refused run names the URL without it.
func TestSecretNeverShown(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	d, err := feeddef.Parse([]byte(`id: tokened
title: A list behind a token
source: Tokened
schedule: 1h
mode: snapshot
fetch:
  base_url: https://lists.example.com
  path: /{name}.txt
  auth:
    kind: query
    param: access_token
format:
  kind: lines
indicator:
  field: value
parameters:
  - name: name
    label: List name
    type: text
    default: bad
    help: Which list.
`))
	if err != nil {
		t.Fatal(err)
	}
	pub := &publisher{path: "/worst.txt", query: "right-token", body: []byte("192.0.2.1\n")}
	srv := httptest.NewServer(pub)
	defer srv.Close()
	settings := map[string]string{"name": "worst"}
	if _, err := Run(ctx, st, d, store.ListFeedConfig{BaseURL: srv.URL, Settings: settings}, listrun.Options{}); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("without a secret: %v", err)
	}
	cfg := store.ListFeedConfig{BaseURL: srv.URL, Settings: settings, Token: secret.New("wrong-token-1234")}
	r, err := Run(ctx, st, d, cfg, listrun.Options{TempDir: t.TempDir()})
	if err == nil || r == nil || r.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("wrong token: %+v, %v", r, err)
	}
	if strings.Contains(err.Error(), "wrong-token") || strings.Contains(r.Error, "wrong-token") {
		t.Fatalf("the error shows the token: %v", err)
	}
	cfg.Token = secret.New("right-token")
	if r, err := Run(ctx, st, d, cfg, listrun.Options{TempDir: t.TempDir()}); err != nil || r.IndicatorsCreated != 1 {
		t.Fatalf("right token: %+v, %v", r, err)
	}
}
