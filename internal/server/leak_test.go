package server

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// TestShutdownMidRecomputeLeavesNoGoroutine: serve stopped while the
// dashboard's aggregates are being recomputed returns only once every
// goroutine it started has stopped, the recomputation included, so that
// none outlives the store. Another connection holds the table the
// recomputation saves into, which keeps it in progress: on PostgreSQL
// the test waits until the save is seen waiting on that lock; on SQLite
// (a write lock on the file) until the dashboard says it is refreshing.
//
// The PostgreSQL run is the one that catches a leaked recomputation: on
// SQLite the held save keeps the store's only writer connection, so
// Store.Close waits for it and a leaked goroutine would end with it.
func TestShutdownMidRecomputeLeavesNoGoroutine(t *testing.T) {
	ctx := context.Background()
	fake := newFake(t, 10, gz(t, lookupDump))
	first := startServe(t, "", fake)
	first.configure(nil)
	first.waitRun(first.must(202, "POST", "/api/v1/feeds/seclytics/runs", first.admin, nil).body["run_id"].(float64))
	freshDashboard(first)
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(ctx, first.db) // as another process would
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, saved, ok, err := other.SavedDashboard(ctx)
	if cur, verr := other.DataVersion(ctx); err != nil || verr != nil || !ok || cur != saved {
		t.Fatalf("the first serve left no current dashboard (saved %v at %+v, store at %+v, %v, %v)", ok, saved, cur, err, verr)
	}
	raw := openRaw(t, first.db)

	ignore := goleak.IgnoreCurrent()
	h := startServe(t, first.db, fake, func(c *Config) { c.Sync = time.Hour })
	h.admin = first.admin
	web, _ := h.uiClient(h.admin)
	// A change made by another process, a second later than the saved
	// aggregates (the data version counts seconds), makes them stale.
	for time.Now().Unix() <= saved.LastUpdate.Unix() {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := other.SetIndicatorStatus(ctx, netip.MustParseAddr("45.33.12.7"), indicator.StatusReview); err != nil {
		t.Fatal(err)
	}
	hold := holdDashboardTable(t, raw, first.db)
	// A dashboard view finds the aggregates stale and has them recomputed.
	if body := getPage(t, web, h.base+"/"); !strings.Contains(body, "refreshing") {
		t.Fatalf("the dashboard does not say it is refreshing after the indicators changed:\n%.500s", body)
	}
	waitSaveHeld(t, raw, hold)

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s while the dashboard was being recomputed")
	}
	// Still holding the table: a recomputation left running would still
	// be waiting on it.
	client.CloseIdleConnections()
	web.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
	hold.release()
	// The recomputation was cut short: had it finished, it would have
	// saved the aggregates at the new version.
	if _, v, _, err := other.SavedDashboard(ctx); err != nil || v != saved {
		t.Errorf("saved dashboard at %+v (%v), want it still at %+v: serve did not stop mid-recompute", v, err, saved)
	}
}

// freshDashboard waits until h's dashboard shows current aggregates.
func freshDashboard(h *harness) {
	h.t.Helper()
	web, _ := h.uiClient(h.admin)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		body := getPage(h.t, web, h.base+"/")
		if !strings.Contains(body, `id="computing"`) && !strings.Contains(body, "refreshing") {
			return
		}
	}
	h.t.Fatal("the dashboard's aggregates were not computed within 30s")
}

func getPage(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", u, resp.StatusCode, err)
	}
	return string(body)
}

func isPostgres(db string) bool { return strings.HasPrefix(db, "postgres") }

// openRaw opens db with the driver the store uses, outside the store.
func openRaw(t *testing.T, db string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if isPostgres(db) {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

type held struct {
	conn *sql.Conn
	pid  int // the holding session's, on PostgreSQL
	done bool
}

// holdDashboardTable keeps every writer of the dashboard's snapshot
// waiting until release: a lock on the table on PostgreSQL, the write
// lock of the whole file on SQLite.
func holdDashboardTable(t *testing.T, raw *sql.DB, db string) *held {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &held{conn: conn}
	t.Cleanup(h.release)
	stmts := []string{`BEGIN IMMEDIATE`}
	if isPostgres(db) {
		stmts = []string{`BEGIN`, `LOCK TABLE dashboard_snapshot IN ACCESS EXCLUSIVE MODE`}
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if isPostgres(db) {
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&h.pid); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *held) release() {
	if h.done {
		return
	}
	h.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.conn.ExecContext(ctx, `ROLLBACK`)
	h.conn.Close()
}

// waitSaveHeld waits, on PostgreSQL, until the dashboard's save is seen
// waiting on the held lock. SQLite shows no such thing: there the save
// waits up to its 5s bound, and the check after shutdown tells whether the
// recomputation was still in progress.
func waitSaveHeld(t *testing.T, raw *sql.DB, h *held) {
	t.Helper()
	if h.pid == 0 {
		return
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		err := raw.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE 'INSERT INTO dashboard_snapshot%'`, h.pid).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the dashboard's save never waited on the held lock within 30s")
}
