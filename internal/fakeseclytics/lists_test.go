package fakeseclytics

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/feeddef"
)

// TestListsParseWithTheirDefinitions: every built-in list feed is served
// at its publisher's path, and its definition (the real consumer) reads
// every generated entry, none invalid, none filtered by default.
func TestListsParseWithTheirDefinitions(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("45.33.12.7/32"), netip.MustParsePrefix("198.51.100.9/32"), netip.MustParsePrefix("203.0.113.0/32"),
	}
	l := NewLists(prefixes, now)
	srv := httptest.NewServer(Handler(nil, l))
	defer srv.Close()
	n := 0
	for _, d := range feeddef.Builtins() {
		if d.ID == "seclytics" {
			continue
		}
		n++
		t.Run(d.ID, func(t *testing.T) {
			resp, err := http.Get(srv.URL + d.Fetch.Path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			r, err := d.NewReader(bytes.NewReader(body), feeddef.Params{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var got []netip.Prefix
			for {
				e, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%v\n%s", err, body)
				}
				got = append(got, e.Prefix)
			}
			if len(got) != len(prefixes) || r.Stats().Invalid != 0 || got[0] != prefixes[0] {
				t.Fatalf("read %v, problems %v, from:\n%s", got, r.Problems(), body)
			}
		})
	}
	if n != 15 {
		t.Errorf("%d built-in list feeds, want 15", n)
	}
}
