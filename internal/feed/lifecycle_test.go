package feed

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func clock(s string) func() time.Time { return func() time.Time { return at(s) } }

// status asserts the status of each address, and returns the indicators.
func (h *harness) statuses(want map[string]indicator.Status) map[string]indicator.Indicator {
	h.t.Helper()
	got := map[string]indicator.Indicator{}
	for ip, st := range want {
		ind := h.lookup(ip)
		if ind.Status != st {
			h.t.Errorf("%s: status %s, want %s", ip, ind.Status, st)
		}
		got[ip] = ind
	}
	return got
}

const day = 24 * time.Hour

func TestAgeOutExpiresEachIndicatorOnItsOwnDates(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header +
		line("45.1.1.1", "malicious", "2024-05-20T00:00:00", "80") + // expires 2024-08-18
		line("45.1.1.2", "malicious", "2024-03-01T00:00:00", "80") + // 2024-05-30: already past
		line("45.1.1.3", "malicious", "2024-04-15T00:00:00", "80") + // 2024-07-14
		line("45.1.1.4", "malicious", "", "80")) // no Last Seen At: the run's time + 90 days

	r := h.mustRun(Options{Now: clock("2024-06-01T12:00:00Z")})
	if r.IndicatorsCreated != 4 || r.IndicatorsExpired != 1 {
		t.Fatalf("first run: %d created, %d expired; want 4, 1", r.IndicatorsCreated, r.IndicatorsExpired)
	}
	inds := h.statuses(map[string]indicator.Status{
		"45.1.1.1": indicator.StatusActive, "45.1.1.2": indicator.StatusExpired,
		"45.1.1.3": indicator.StatusActive, "45.1.1.4": indicator.StatusActive,
	})
	for ip, want := range map[string]time.Time{
		"45.1.1.1": at("2024-05-20T00:00:00Z").Add(90 * day),
		"45.1.1.2": at("2024-03-01T00:00:00Z").Add(90 * day),
		"45.1.1.3": at("2024-04-15T00:00:00Z").Add(90 * day),
		"45.1.1.4": at("2024-06-01T12:00:00Z").Add(90 * day),
	} {
		if e := inds[ip].ExpiresAt; e == nil || !e.Equal(want) {
			t.Errorf("%s expires at %v, want %v (its own Last Seen At + 90 days)", ip, e, want)
		}
	}

	// The same dump later (HTTP 304): expiry still runs, one indicator at
	// a time as each one's date passes.
	r = h.mustRun(Options{Now: clock("2024-07-20T00:00:00Z")})
	if r.Status != activity.StatusUnchanged || r.IndicatorsExpired != 1 {
		t.Fatalf("second run: %s, %d expired; want unchanged, 1", r.Status, r.IndicatorsExpired)
	}
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusActive, "45.1.1.3": indicator.StatusExpired, "45.1.1.4": indicator.StatusActive})
	r = h.mustRun(Options{Now: clock("2024-08-20T00:00:00Z")})
	if r.IndicatorsExpired != 1 {
		t.Fatalf("third run: %d expired, want 1", r.IndicatorsExpired)
	}
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusExpired, "45.1.1.4": indicator.StatusActive})

	// The periodic job (forewarn serve) does the same without a run.
	n, err := h.st.ExpireDue(context.Background(), at("2024-09-01T00:00:00Z"))
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue: %d, %v; want 1", n, err)
	}
	h.statuses(map[string]indicator.Status{"45.1.1.4": indicator.StatusExpired})
}

func TestSightingReactivatesAnExpiredIndicator(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header + line("45.1.1.1", "malicious", "2024-01-01T00:00:00", "80") + line("45.1.1.2", "malicious", "2024-01-01T00:00:00", "80"))
	h.mustRun(Options{Now: clock("2024-06-01T00:00:00Z")})
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusExpired, "45.1.1.2": indicator.StatusExpired})

	// 45.1.1.1 is seen again, later; 45.1.1.2's row is the same as before,
	// so it stays Expired (and is not rewritten).
	h.body(header + line("45.1.1.1", "malicious", "2024-05-30T00:00:00", "80") + line("45.1.1.2", "malicious", "2024-01-01T00:00:00", "80") +
		line("45.1.1.3", "malicious", "2024-05-30T00:00:00", "80"))
	r := h.mustRun(Options{Now: clock("2024-06-02T00:00:00Z")})
	if r.IndicatorsUpdated != 1 || r.IndicatorsUnchanged != 1 || r.IndicatorsCreated != 1 || r.IndicatorsExpired != 0 {
		t.Fatalf("counts: %+v", r.Counts)
	}
	inds := h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusActive, "45.1.1.2": indicator.StatusExpired})
	if e := inds["45.1.1.1"].ExpiresAt; e == nil || !e.Equal(at("2024-05-30T00:00:00Z").Add(90*day)) {
		t.Errorf("re-activated indicator expires at %v", e)
	}
}

func TestAgeOutNever(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header + line("45.1.1.1", "malicious", "2015-01-01T00:00:00", "80") + line("45.1.1.2", "malicious", "", "80"))
	r := h.mustRun(Options{Now: clock("2024-06-01T00:00:00Z")}, "age_out=never")
	if r.IndicatorsExpired != 0 {
		t.Fatalf("%d expired with age_out never", r.IndicatorsExpired)
	}
	for ip, ind := range h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusActive, "45.1.1.2": indicator.StatusActive}) {
		if ind.ExpiresAt != nil {
			t.Errorf("%s expires at %v with age_out never", ip, ind.ExpiresAt)
		}
	}
	if n, err := h.st.ExpireDue(context.Background(), at("2100-01-01T00:00:00Z")); err != nil || n != 0 {
		t.Fatalf("ExpireDue: %d, %v", n, err)
	}

	// Turning age_out on needs no new dump: the unchanged run recomputes
	// every expiry from the stored dates.
	r = h.mustRun(Options{Now: clock("2024-06-02T00:00:00Z")}, "age_out=720h")
	if r.Status != activity.StatusUnchanged || r.IndicatorsExpired != 1 {
		t.Fatalf("run with age_out 720h: %s, %d expired", r.Status, r.IndicatorsExpired)
	}
	inds := h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusExpired, "45.1.1.2": indicator.StatusActive})
	if e := inds["45.1.1.2"].ExpiresAt; e == nil || !e.Equal(at("2024-06-01T00:00:00Z").Add(30*day)) {
		t.Errorf("45.1.1.2 (no Last Seen At) expires at %v, want the first run + 30 days", e)
	}
}

func TestAllowlistedRowsAreIngestedWhitelisted(t *testing.T) {
	ctx := context.Background()
	rows := header +
		line("10.1.2.3", "malicious", "2024-05-30T00:00:00", "80") + // private: built-in
		line("192.0.2.5", "malicious", "2024-05-30T00:00:00", "80") + // documentation: built-in
		line("2001:db8::7", "malicious", "2024-05-30T00:00:00", "80") + // documentation: built-in
		line("8.8.8.8", "malicious", "2024-05-30T00:00:00", "80") + // a person's entry
		line("45.1.1.1", "malicious", "2024-05-30T00:00:00", "80")
	now := clock("2024-06-01T00:00:00Z")

	t.Run("special ranges on by default", func(t *testing.T) {
		h := newHarness(t, 0)
		if _, _, err := h.st.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: netip.MustParsePrefix("8.8.8.8/32"), Comment: "resolver", AddedBy: "ops"}); err != nil {
			t.Fatal(err)
		}
		h.body(rows)
		r := h.mustRun(Options{Now: now})
		if r.RowsAllowlisted != 4 || r.IndicatorsCreated != 5 {
			t.Fatalf("%d rows allow-listed, %d created; want 4, 5", r.RowsAllowlisted, r.IndicatorsCreated)
		}
		h.statuses(map[string]indicator.Status{
			"10.1.2.3": indicator.StatusWhitelisted, "192.0.2.5": indicator.StatusWhitelisted, "2001:db8::7": indicator.StatusWhitelisted,
			"8.8.8.8": indicator.StatusWhitelisted, "45.1.1.1": indicator.StatusActive,
		})
		runs, err := h.st.Runs(ctx, Name, 1)
		if err != nil || len(runs) != 1 || runs[0].RowsAllowlisted != 4 {
			t.Fatalf("stored run: %+v %v", runs, err)
		}
	})
	t.Run("special ranges off", func(t *testing.T) {
		h := newHarness(t, 0)
		h.body(rows)
		r := h.mustRun(Options{Now: now}, "allowlist_special_ranges=false")
		if r.RowsAllowlisted != 0 {
			t.Fatalf("%d rows allow-listed, want 0", r.RowsAllowlisted)
		}
		h.statuses(map[string]indicator.Status{"10.1.2.3": indicator.StatusActive, "192.0.2.5": indicator.StatusActive, "8.8.8.8": indicator.StatusActive})

		// Turning them on applies to stored indicators at the next run,
		// even with the dump unchanged.
		r = h.mustRun(Options{Now: now})
		if r.Status != activity.StatusUnchanged {
			t.Fatalf("second run: %s", r.Status)
		}
		h.statuses(map[string]indicator.Status{"10.1.2.3": indicator.StatusWhitelisted, "2001:db8::7": indicator.StatusWhitelisted, "45.1.1.1": indicator.StatusActive})
	})
}

func TestAddingAnEntryWhitelistsStoredIndicators(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 0)
	h.body(header + line("45.1.1.1", "malicious", "2024-05-30T00:00:00", "80") + line("45.1.1.2", "malicious", "2024-05-30T00:00:00", "80") +
		line("45.1.2.1", "malicious", "2024-05-30T00:00:00", "80"))
	h.mustRun(Options{Now: clock("2024-06-01T00:00:00Z")})
	e, n, err := h.st.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: netip.MustParsePrefix("45.1.1.0/24"), Comment: "partner", AddedBy: "alice"})
	if err != nil || n != 2 || e.AddedAt.IsZero() {
		t.Fatalf("add: %+v, %d, %v; want 2 whitelisted", e, n, err)
	}
	if _, _, err := h.st.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: netip.MustParsePrefix("45.1.1.9/24")}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("adding the same range twice: %v", err)
	}
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusWhitelisted, "45.1.1.2": indicator.StatusWhitelisted, "45.1.2.1": indicator.StatusActive})

	// Whitelisted survives later runs, with new data for the indicator,
	// and removing the entry does not re-activate it.
	h.body(header + line("45.1.1.1", "malicious,botnet", "2024-06-10T00:00:00", "90") + line("45.1.2.1", "malicious", "2024-06-10T00:00:00", "80"))
	r := h.mustRun(Options{Now: clock("2024-06-11T00:00:00Z")})
	if r.RowsAllowlisted != 1 || r.IndicatorsUpdated != 2 {
		t.Fatalf("later run: %d allow-listed, %d updated", r.RowsAllowlisted, r.IndicatorsUpdated)
	}
	if err := h.st.RemoveAllowlistEntry(ctx, netip.MustParsePrefix("45.1.1.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := h.st.RemoveAllowlistEntry(ctx, netip.MustParsePrefix("45.1.1.0/24")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	h.body(header + line("45.1.1.1", "malicious,botnet", "2024-06-12T00:00:00", "90"))
	h.mustRun(Options{Now: clock("2024-06-13T00:00:00Z")})
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusWhitelisted, "45.1.1.2": indicator.StatusWhitelisted, "45.1.2.1": indicator.StatusActive})
	list, err := h.st.AllowlistEntries(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("entries after removal: %+v %v", list, err)
	}
}

// failingCommit is a store whose run transactions fail to commit, after
// everything else (merge, allow-list, expiry) was done in them.
type failingCommit struct{ *store.Store }

func (f failingCommit) BeginIngest(ctx context.Context) (store.Tx, error) {
	tx, err := f.Store.BeginIngest(ctx)
	return failingTx{tx}, err
}

type failingTx struct{ store.Tx }

func (f failingTx) Commit() error {
	f.Tx.Rollback()
	return errors.New("disk full")
}

func TestExpiryIsPartOfTheRunsTransaction(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header + line("45.1.1.1", "malicious", "2024-05-01T00:00:00", "80") + line("10.9.9.9", "malicious", "2024-05-01T00:00:00", "80"))
	h.mustRun(Options{Now: clock("2024-06-01T00:00:00Z")}, "allowlist_special_ranges=false")
	h.body(header + line("45.1.1.2", "malicious", "2024-05-01T00:00:00", "80"))

	// This run would expire 45.1.1.1, create 45.1.1.2 already Expired and
	// whitelist 10.9.9.9, but fails.
	h.wrap = func(st *store.Store) Store { return failingCommit{st} }
	r, err := h.run(Options{Now: clock("2024-09-01T00:00:00Z")})
	if err == nil || r == nil || r.Status != activity.StatusFailed || r.IndicatorsExpired != 2 {
		t.Fatalf("run: %v %+v", err, r)
	}
	h.statuses(map[string]indicator.Status{"45.1.1.1": indicator.StatusActive, "10.9.9.9": indicator.StatusActive})
	if _, err := h.st.Lookup(context.Background(), netip.MustParseAddr("45.1.1.2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed run's indicator is stored: %v", err)
	}
}
