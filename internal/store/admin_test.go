package store_test

// These tests run real feed runs (package feed, which imports store) against
// a Seclytics-compatible server on loopback, so they live outside package
// store.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

const adminToken = "tok-ADMIN-TEST-5a7c1e"

type feedHarness struct {
	t   *testing.T
	st  *store.Store
	srv *fakeseclytics.Server
	url string
}

func newFeedHarness(t *testing.T) *feedHarness {
	t.Helper()
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Token: adminToken, NoETag: true, NoLastModified: true})
	return &feedHarness{t: t, st: testutil.Store(t), srv: srv, url: url}
}

// ingest serves a dump of the given rows ("ip,last seen") and runs the feed
// with its default configuration.
func (h *feedHarness) ingest(rows ...string) *activity.Run {
	h.t.Helper()
	var csv strings.Builder
	csv.WriteString("ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n")
	for _, r := range rows {
		ip, lastSeen, _ := strings.Cut(r, ",")
		fmt.Fprintf(&csv, "%s,2018-06-21T02:03:48,192.0.2.0/24,spam,c-%s,uceptect_level2,id1,malicious,2021-02-09T00:00:00,%s,80\n", ip, ip, lastSeen)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(csv.String()))
	zw.Close()
	h.srv.SetBody("a", b.Bytes())
	r, err := feed.Run(context.Background(), h.st, feed.Options{
		Token:    secret.New(adminToken),
		StageDir: h.t.TempDir(),
		// These tests are about statuses a person sets: no expiry (the
		// dates are years old) and no special ranges (the addresses are
		// documentation ones).
		Override: func(c *config.Seclytics) error {
			for k, v := range map[string]string{"base_url": h.url, "age_out": "never", "allowlist_special_ranges": "false"} {
				if err := c.Set(k, v); err != nil {
					return err
				}
			}
			return nil
		},
	})
	if err != nil {
		h.t.Fatalf("feed run: %v", err)
	}
	if r.Status != activity.StatusSucceeded {
		h.t.Fatalf("feed run %s: %s", r.Status, r.Error)
	}
	return r
}

func (h *feedHarness) lookup(ip string) indicator.Indicator {
	h.t.Helper()
	ind, err := h.st.Lookup(context.Background(), netip.MustParseAddr(ip))
	if err != nil {
		h.t.Fatalf("lookup %s: %v", ip, err)
	}
	return ind
}

func lastSeen(ind indicator.Indicator) string {
	for _, a := range ind.Attributes {
		if a.Name == indicator.AttrLastSeenAt {
			return a.Value.String()
		}
	}
	return ""
}

// TestStatusSetByAPersonSurvivesLaterRuns sets statuses, then runs the feed
// again: Whitelisted and Review stay, whether the row changed (merged) or
// not (skipped by its hash); Expired becomes Active again.
func TestStatusSetByAPersonSurvivesLaterRuns(t *testing.T) {
	ctx := context.Background()
	h := newFeedHarness(t)
	h.ingest("198.51.100.1,2022-11-27", "198.51.100.2,2022-11-27", "198.51.100.3,2022-11-27", "198.51.100.4,2022-11-27",
		"198.51.100.5,2022-11-27")
	before := h.lookup("198.51.100.1")

	for ip, st := range map[string]indicator.Status{
		"198.51.100.1": indicator.StatusWhitelisted, // changes in the next run
		"198.51.100.2": indicator.StatusWhitelisted, // unchanged in the next run
		"198.51.100.3": indicator.StatusReview,      // changes
		"198.51.100.4": indicator.StatusExpired,     // unchanged
	} {
		ind, err := h.st.SetIndicatorStatus(ctx, netip.MustParseAddr(ip), st)
		if err != nil || ind.Status != st || ind.Addr.String() != ip {
			t.Fatalf("set %s to %s: %+v %v", ip, st, ind, err)
		}
		if ind.UpdatedAt.Before(before.UpdatedAt) {
			t.Errorf("%s: updated_at went back: %v", ip, ind.UpdatedAt)
		}
	}
	if _, err := h.st.SetIndicatorStatus(ctx, netip.MustParseAddr("192.0.2.99"), indicator.StatusReview); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown address: %v", err)
	}
	if _, err := h.st.SetIndicatorStatus(ctx, netip.MustParseAddr("198.51.100.1"), "Blocked"); !errors.Is(err, store.ErrBadQuery) ||
		!strings.Contains(err.Error(), "Whitelisted") {
		t.Errorf("unknown status: %v", err)
	}
	counts, err := h.st.IndicatorCounts(ctx)
	if err != nil || counts[indicator.StatusWhitelisted] != 2 || counts[indicator.StatusReview] != 1 ||
		counts[indicator.StatusExpired] != 1 || counts[indicator.StatusActive] != 1 {
		t.Fatalf("counts: %v %v", counts, err)
	}

	r := h.ingest("198.51.100.1,2022-12-01", "198.51.100.2,2022-11-27", "198.51.100.3,2022-12-01", "198.51.100.4,2022-11-27",
		"198.51.100.5,2022-11-27")
	if r.IndicatorsUpdated != 3 || r.IndicatorsUnchanged != 2 {
		t.Fatalf("second run: %d updated, %d unchanged; want .1, .3 (changed) and .4 (re-activated) updated", r.IndicatorsUpdated, r.IndicatorsUnchanged)
	}
	for ip, want := range map[string]indicator.Status{
		"198.51.100.1": indicator.StatusWhitelisted,
		"198.51.100.2": indicator.StatusWhitelisted,
		"198.51.100.3": indicator.StatusReview,
		"198.51.100.4": indicator.StatusActive,
		"198.51.100.5": indicator.StatusActive,
	} {
		if got := h.lookup(ip); got.Status != want {
			t.Errorf("%s after the next run: %s, want %s", ip, got.Status, want)
		}
	}
	if got := lastSeen(h.lookup("198.51.100.1")); got != "2022-12-01T00:00:00Z" {
		t.Errorf("the run did not merge into the whitelisted indicator: Last Seen At %s", got)
	}
}

// feedState is what DeleteFeed may touch: the feed's configuration and the
// indicators, and what it must keep: the activity log.
type feedState struct {
	installed, token bool
	indicators       int64
	runs             int
}

func stateOf(t *testing.T, st *store.Store) feedState {
	t.Helper()
	ctx := context.Background()
	cfg, fs, err := st.FeedConfig(ctx, feed.Name)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return feedState{fs.Installed, cfg.Token.IsSet(), stats.Indicators, len(runs)}
}

// installed is a store with the feed configured (token included), three
// indicators from one run, and one indicator without Seclytics attributes.
func installed(t *testing.T) *feedHarness {
	t.Helper()
	ctx := context.Background()
	h := newFeedHarness(t)
	cfg := config.Default()
	cfg.Token = secret.New(adminToken)
	if err := h.st.SaveFeedConfig(ctx, feed.Name, cfg); err != nil {
		t.Fatal(err)
	}
	h.ingest("198.51.100.1,2022-11-27", "198.51.100.2,2022-11-27", "2001:db8::7,2022-11-27")
	tx, err := h.st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr("203.0.113.9")}, Status: indicator.StatusActive, CreatedAt: 1, UpdatedAt: 1}
	if err := tx.Write(ctx, []*merge.Stored{other}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := stateOf(t, h.st), (feedState{true, true, 4, 1}); got != want {
		t.Fatalf("set up: %+v, want %+v", got, want)
	}
	return h
}

func TestDeleteFeed(t *testing.T) {
	ctx := context.Background()
	t.Run("configuration only", func(t *testing.T) {
		h := installed(t)
		n, err := h.st.DeleteFeed(ctx, feed.Name, false)
		if err != nil || n != 0 {
			t.Fatalf("delete: %d %v", n, err)
		}
		if got, want := stateOf(t, h.st), (feedState{false, false, 4, 1}); got != want {
			t.Fatalf("after: %+v, want %+v", got, want)
		}
		if _, err := h.st.DeleteFeed(ctx, feed.Name, false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		// Purging later still removes the indicators.
		if n, err := h.st.DeleteFeed(ctx, feed.Name, true); err != nil || n != 3 {
			t.Errorf("purge after delete: %d %v", n, err)
		}
	})
	t.Run("purge", func(t *testing.T) {
		h := installed(t)
		n, err := h.st.DeleteFeed(ctx, feed.Name, true)
		if err != nil || n != 3 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if got, want := stateOf(t, h.st), (feedState{false, false, 1, 1}); got != want {
			t.Fatalf("after: %+v, want %+v", got, want)
		}
		if _, err := h.st.Lookup(ctx, netip.MustParseAddr("203.0.113.9")); err != nil {
			t.Errorf("an indicator without the feed's attributes was purged: %v", err)
		}
		// Reinstalled, the feed starts afresh: no watermark, no validators.
		r := h.ingest("198.51.100.1,2022-11-27")
		if r.IndicatorsCreated != 1 {
			t.Errorf("run after purge: %+v", r)
		}
	})
	t.Run("unknown feed", func(t *testing.T) {
		h := installed(t)
		if _, err := h.st.DeleteFeed(ctx, "spamhaus", true); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "seclytics") {
			t.Errorf("purge unknown feed: %v", err)
		}
		if _, err := h.st.DeleteFeed(ctx, "../spamhaus", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete unknown feed: %v", err)
		}
		if got, want := stateOf(t, h.st), (feedState{true, true, 4, 1}); got != want {
			t.Fatalf("after: %+v, want %+v", got, want)
		}
	})
	t.Run("refused while the feed runs", func(t *testing.T) {
		h := installed(t)
		lock, err := h.st.LockFeed(ctx, feed.Name)
		if err != nil {
			t.Fatal(err)
		}
		var ip *store.InProgressError
		if _, err := h.st.DeleteFeed(ctx, feed.Name, true); !errors.As(err, &ip) {
			t.Fatalf("delete during a run: %v", err)
		}
		if got, want := stateOf(t, h.st), (feedState{true, true, 4, 1}); got != want {
			t.Fatalf("after: %+v, want %+v", got, want)
		}
		lock.Close()
		if _, err := h.st.DeleteFeed(ctx, feed.Name, true); err != nil {
			t.Fatalf("delete after the run: %v", err)
		}
	})
	t.Run("all or nothing", func(t *testing.T) {
		// Make deleting the configuration fail after the indicators were
		// purged, in the same transaction: nothing may be deleted.
		h := installed(t)
		undo := store.FailDeletesForTest(t, h.st, "feeds")
		if _, err := h.st.DeleteFeed(ctx, feed.Name, true); err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("delete with a failing step: %v", err)
		}
		if got, want := stateOf(t, h.st), (feedState{true, true, 4, 1}); got != want {
			t.Fatalf("a failed delete changed the store: %+v, want %+v", got, want)
		}
		undo()
		if n, err := h.st.DeleteFeed(ctx, feed.Name, true); err != nil || n != 3 {
			t.Fatalf("delete once the failure is gone: %d %v", n, err)
		}
	})
}
