package store

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/secret"
	"forewarn/internal/testutil/pgtest"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenMigratesOnceAndIsPrivate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	files, err := fs.Glob(migrations, "migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	latest, _ := strconv.Atoi(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0])
	for i := 0; i < 2; i++ {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != latest || v < 2 {
			t.Fatalf("schema version %d, %v; want %d", v, err, latest)
		}
		s.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("store holds a token but is readable by others: %v", fi.Mode())
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "x.db")); err == nil {
		t.Error("opened a store in a directory that does not exist")
	}
}

func TestFeedConfigRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	cfg, st, err := s.FeedConfig(ctx, "seclytics")
	if err != nil || st.Installed || cfg.Dataset != "A" {
		t.Fatalf("fresh store: %+v %+v %v", cfg, st, err)
	}
	cfg.Token = secret.New("tok-123456")
	_ = cfg.Set("dataset", "B")
	if err := s.SaveFeedConfig(ctx, "seclytics", cfg); err != nil {
		t.Fatal(err)
	}
	got, st, err := s.FeedConfig(ctx, "seclytics")
	if err != nil || !st.Installed || got.Dataset != "B" || got.Token.Reveal() != "tok-123456" {
		t.Fatalf("round trip: %+v %+v %v", got, st, err)
	}
	bad := config.Default()
	bad.Threshold = 200
	var fe *config.FieldError
	if err := s.SaveFeedConfig(ctx, "seclytics", bad); !errors.As(err, &fe) {
		t.Errorf("invalid configuration stored: %v", err)
	}
}

func TestLockFeedRefusesASecondRunAndAbandonsDeadOnes(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	lock, err := s.LockFeed(ctx, "seclytics")
	if err != nil {
		t.Fatal(err)
	}
	r := &activity.Run{Feed: "seclytics", Trigger: "cli", Status: activity.StatusRunning, StartedAt: time.Now(), Host: "h", PID: 42}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	var ip *InProgressError
	if _, err := s.LockFeed(ctx, "seclytics"); !errors.As(err, &ip) || ip.RunID != r.ID {
		t.Fatalf("second lock: %v", err)
	}
	// The holder dies without finishing its run: the next lock marks it
	// abandoned.
	lock.Close()
	lock2, err := s.LockFeed(ctx, "seclytics")
	if err != nil {
		t.Fatal(err)
	}
	defer lock2.Close()
	got, err := s.Run(ctx, r.ID)
	if err != nil || got.Status != activity.StatusAbandoned || got.FinishedAt == nil {
		t.Fatalf("dead run: %+v %v", got, err)
	}
}

// TestLockFeedLeavesLiveDryRunsRunning: a dry run takes no lock, so a real
// run taking it must not mark a dry run of a live process abandoned (it
// then showed "abandoned", and flipped to "succeeded" when it ended); one
// of a process of this host that no longer exists is abandoned.
func TestLockFeedLeavesLiveDryRunsRunning(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	host, _ := os.Hostname()
	live := &activity.Run{Feed: "seclytics", Trigger: "manual", Status: activity.StatusRunning, DryRun: true, StartedAt: time.Now(), Host: host, PID: os.Getpid()}
	dead := &activity.Run{Feed: "seclytics", Trigger: "manual", Status: activity.StatusRunning, DryRun: true, StartedAt: time.Now(), Host: host, PID: deadPID(t)}
	for _, r := range []*activity.Run{live, dead} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := s.LockFeed(ctx, "seclytics")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	for _, c := range []struct {
		r    *activity.Run
		want activity.Status
	}{{live, activity.StatusRunning}, {dead, activity.StatusAbandoned}} {
		got, err := s.Run(ctx, c.r.ID)
		if err != nil || got.Status != c.want {
			t.Errorf("dry run of pid %d: %s %v, want %s", c.r.PID, got.Status, err, c.want)
		}
	}
}

// deadPID is the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no process to start: %v", err)
	}
	return cmd.Process.Pid
}

func stored(ip string, status indicator.Status) *merge.Stored {
	st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip)}, Exists: true, Status: status, CreatedAt: 100, UpdatedAt: 200}
	st.Has = st.Has.With(merge.Cluster).With(merge.DetectedBy).With(merge.Importance).With(merge.PredictedNetblock)
	st.Cluster, st.DetectedBy, st.Importance = "c1", []string{"a", "b"}, 85.5
	st.PredictedNetblock = netip.MustParsePrefix("2001:db8::/48")
	st.Created[merge.Cluster], st.Updated[merge.Cluster] = 1, 300
	return st
}

// commitRows writes batches (one Write each) in one committed ingest.
func commitRows(tb testing.TB, s *Store, batches ...[]*merge.Stored) {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	for _, b := range batches {
		if err := tx.Write(ctx, b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

func TestIngestCommitAndRollback(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.SaveFeedConfig(ctx, "seclytics", config.Default()); err != nil {
		t.Fatal(err)
	}

	commitRows(t, s, []*merge.Stored{stored("1.2.3.4", indicator.StatusActive), stored("2001:db8::1", indicator.StatusReview)})

	got, err := s.LookupStored(ctx, netip.MustParseAddr("1.2.3.4"))
	if err != nil {
		t.Fatal(err)
	}
	want := stored("1.2.3.4", indicator.StatusActive)
	if got.Cluster != "c1" || got.Importance != 85.5 || len(got.DetectedBy) != 2 || got.Has != want.Has ||
		got.Created != want.Created || got.Updated != want.Updated || got.PredictedNetblock != want.PredictedNetblock {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}

	// Load inside a transaction finds existing rows and only those.
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := []*merge.Stored{{Record: merge.Record{Addr: netip.MustParseAddr("2001:db8::1")}}, {Record: merge.Record{Addr: netip.MustParseAddr("9.9.9.9")}}}
	if err := tx.Load(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if !recs[0].Exists || recs[0].Status != indicator.StatusReview || recs[1].Exists {
		t.Fatalf("load: %+v / %+v", recs[0], recs[1])
	}
	// Written, then rolled back: nothing remains.
	if err := tx.Write(ctx, []*merge.Stored{stored("9.9.9.9", indicator.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.SaveFeedState(ctx, "seclytics", FeedState{Watermark: 5, ETag: `"x"`}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupStored(ctx, netip.MustParseAddr("9.9.9.9")); !errors.Is(err, ErrNotFound) {
		t.Errorf("uncommitted write visible to readers: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupStored(ctx, netip.MustParseAddr("9.9.9.9")); !errors.Is(err, ErrNotFound) {
		t.Errorf("rolled back write persisted: %v", err)
	}
	if _, st, _ := s.FeedConfig(ctx, "seclytics"); st.ETag != "" || st.Watermark != 0 {
		t.Errorf("rolled back feed state persisted: %+v", st)
	}

	var values []string
	if err := s.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		values = append(values, ind.Addr.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(values) != 2 || values[0] != "1.2.3.4" || values[1] != "2001:db8::1" {
		t.Errorf("EachIndicator order: %v", values)
	}
}

// TestLoadFindsSparseAndDenseBatches covers both halves of Load: the range
// scan (dense batches) and the lookup by key of what a capped scan missed.
func TestLoadFindsSparseAndDenseBatches(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var all []*merge.Stored
	for i := 0; i < 3000; i++ {
		all = append(all, stored(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}).String(), indicator.StatusActive))
	}
	commitRows(t, s, all)
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for name, step := range map[string]int{"dense": 1, "sparse": 11, "one per range": 2999} {
		var recs []*merge.Stored
		want := 0
		for i := 0; i < 3000; i += step {
			recs = append(recs, &merge.Stored{Record: merge.Record{Addr: all[i].Addr}})
			want++
			// An address the store does not hold, between two it does.
			recs = append(recs, &merge.Stored{Record: merge.Record{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 2})}})
		}
		if err := tx.Load(ctx, recs); err != nil {
			t.Fatal(err)
		}
		got := 0
		for i, r := range recs {
			if r.Exists != (i%2 == 0) {
				t.Fatalf("%s: %v exists=%v", name, r.Addr, r.Exists)
			}
			if r.Exists {
				got++
				if r.Cluster != "c1" {
					t.Fatalf("%s: %v loaded without its values", name, r.Addr)
				}
			}
		}
		if got != want {
			t.Errorf("%s: found %d of %d", name, got, want)
		}
	}
}

// TestLoadSkipsOnlyRecordsMergedBefore: a member whose stored hash equals
// its new hash is Unchanged without its row being read, unless the stored
// status would change on a sighting (Expired).
func TestLoadSkipsOnlyRecordsMergedBefore(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	rows := []*merge.Stored{stored("10.0.0.1", indicator.StatusActive), stored("10.0.0.2", indicator.StatusExpired),
		stored("10.0.0.3", indicator.StatusReview), stored("10.0.0.4", indicator.StatusActive)}
	for _, r := range rows {
		r.Hash = 42
	}
	commitRows(t, s, rows)
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	probe := func(ip string, h uint64) *merge.Stored {
		return &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip)}, NewHash: h}
	}
	recs := []*merge.Stored{probe("10.0.0.1", 42), probe("10.0.0.2", 42), probe("10.0.0.3", 42), probe("10.0.0.4", 7), probe("10.0.0.5", 42)}
	if err := tx.Load(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ exists, unchanged bool }{{true, true}, {true, false}, {true, true}, {true, false}, {false, false}} {
		if recs[i].Exists != want.exists || recs[i].Unchanged != want.unchanged {
			t.Errorf("%v: exists %v unchanged %v, want %+v", recs[i].Addr, recs[i].Exists, recs[i].Unchanged, want)
		}
		if recs[i].Exists && !recs[i].Unchanged && recs[i].Cluster != "c1" {
			t.Errorf("%v: loaded without its values", recs[i].Addr)
		}
	}
}
