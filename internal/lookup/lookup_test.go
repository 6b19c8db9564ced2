package lookup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil"

	"github.com/google/go-cmp/cmp"
)

const testToken = "tok-LOOKUP-0123456789"

// feedStore is a real store file fed by real runs against a
// Seclytics-compatible server on loopback.
type feedStore struct {
	t   testing.TB
	st  *store.Store
	srv *fakeseclytics.Server
	url string
}

func newFeedStore(t testing.TB) *feedStore {
	t.Helper()
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Token: testToken})
	return &feedStore{t: t, st: testutil.Store(t), srv: srv, url: url}
}

// run serves csv as dataset A and runs the feed with settings given as
// key=value pairs over the defaults.
func (f *feedStore) run(csv string, settings ...string) *activity.Run {
	f.t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(csv))
	zw.Close()
	f.srv.SetBody("a", b.Bytes())
	r, err := feed.Run(context.Background(), f.st, feed.Options{
		Token:    secret.New(testToken),
		StageDir: f.t.TempDir(),
		Override: config.Settings(append([]string{"base_url=" + f.url}, settings...)...),
	})
	if err != nil || r.Status != activity.StatusSucceeded {
		f.t.Fatalf("run: %v (%+v)", err, r)
	}
	return r
}

const header = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n"

func row(ip, netblock, cluster, cats, importance string) string {
	return fmt.Sprintf("%s,2018-06-21T02:03:48,%s,scanner,%s,uceptect_level2,,%q,2021-02-09T00:00:00,2022-11-27T00:00:00,%s\n",
		ip, netblock, cluster, cats, importance)
}

// dump has two IPv4 netblocks, one inside the other, an IPv6 one, a row
// below the default threshold and a listed address without a netblock.
var dump = header +
	row("198.51.100.1", "198.51.100.0/24", "c1", "malicious", "80") +
	row("198.51.100.2", "198.51.100.0/24", "c2", "botnet,Spam", "95") +
	row("198.51.100.3", "198.51.100.0/24", "c9", "malicious", "10") + // below the threshold: not stored
	row("198.51.100.200", "198.51.0.0/16", "c3", "phishing", "75") +
	row("198.51.7.1", "198.51.0.0/16", "c4", "malicious", "85") +
	row("2001:db8:1::5", "2001:db8:1::/48", "c6", "malicious", "90") +
	row("203.0.113.5", "", "c7", "malicious", "90")

func ptr(f float64) *float64 { return &f }

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []string
		// predicted is the predicted category when it is stored.
		predicted []string
	}{
		// The default context does not select Predicted Netblock: the
		// netblocks must be found all the same.
		{name: "default configuration"},
		{name: "all context", settings: []string{"context=all"}, predicted: []string{"scanner"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFeedStore(t)
			f.run(dump, tc.settings...)
			svc := NewService(f.st)
			if got, _ := svc.Lookup(ctx, netip.MustParseAddr("198.51.100.9")); got.Verdict != VerdictUnknown {
				t.Errorf("before the first Rebuild: %+v", got)
			}
			if err := svc.Rebuild(ctx); err != nil {
				t.Fatal(err)
			}
			if svc.Netblocks() != 3 || svc.Built().IsZero() {
				t.Errorf("index: %d netblocks, built %v", svc.Netblocks(), svc.Built())
			}
			cats := func(c ...string) []string { return sortedUnion(c, tc.predicted) }
			n24 := Summary{Netblock: netip.MustParsePrefix("198.51.100.0/24"), Listed: 2, MaxImportance: ptr(95), Categories: cats("botnet", "malicious", "spam"), Clusters: []string{"c1", "c2"}}
			n16 := Summary{Netblock: netip.MustParsePrefix("198.51.0.0/16"), Listed: 2, MaxImportance: ptr(85), Categories: cats("malicious", "phishing"), Clusters: []string{"c3", "c4"}}
			n48 := Summary{Netblock: netip.MustParsePrefix("2001:db8:1::/48"), Listed: 1, MaxImportance: ptr(90), Categories: cats("malicious"), Clusters: []string{"c6"}}
			for _, want := range []Result{
				{IP: netip.MustParseAddr("198.51.100.1"), Verdict: VerdictListed, Netblocks: []Summary{n24, n16}},
				{IP: netip.MustParseAddr("198.51.100.9"), Verdict: VerdictInNetblock, Netblocks: []Summary{n24, n16}},
				{IP: netip.MustParseAddr("198.51.100.3"), Verdict: VerdictInNetblock, Netblocks: []Summary{n24, n16}},
				{IP: netip.MustParseAddr("198.51.7.2"), Verdict: VerdictInNetblock, Netblocks: []Summary{n16}},
				{IP: netip.MustParseAddr("2001:db8:1::5"), Verdict: VerdictListed, Netblocks: []Summary{n48}},
				{IP: netip.MustParseAddr("2001:db8:1:ffff::1"), Verdict: VerdictInNetblock, Netblocks: []Summary{n48}},
				{IP: netip.MustParseAddr("2001:db8:2::1"), Verdict: VerdictUnknown, Netblocks: []Summary{}},
				{IP: netip.MustParseAddr("203.0.113.5"), Verdict: VerdictListed, Netblocks: []Summary{}},
				{IP: netip.MustParseAddr("192.0.2.1"), Verdict: VerdictUnknown, Netblocks: []Summary{}},
			} {
				got, err := svc.Lookup(ctx, want.IP)
				if err != nil {
					t.Fatal(err)
				}
				if (got.Indicator != nil) != (want.Verdict == VerdictListed) || (got.Indicator != nil && got.Indicator.Addr != want.IP) {
					t.Errorf("%s: indicator %+v", want.IP, got.Indicator)
				}
				got.Indicator = nil
				if diff := cmp.Diff(want, got, typedValues); diff != "" {
					t.Errorf("%s (-want +got):\n%s", want.IP, diff)
				}
			}
		})
	}
}

// TestScopedAnswersAsTheWholeIndex: an index built from a source scoped to
// some addresses holds only the netblocks containing them and answers for
// them as the index of the whole store does.
func TestScopedAnswersAsTheWholeIndex(t *testing.T) {
	ctx := context.Background()
	f := newFeedStore(t)
	f.run(dump)
	whole := NewService(f.st)
	if err := whole.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	for _, ip := range []string{"198.51.7.2", "::ffff:198.51.7.3", "2001:db8:2::1", "203.0.113.5"} {
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	snap, err := f.st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	scoped := NewService(Scoped(snap, addrs))
	if err := scoped.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if scoped.Netblocks() != 1 { // 198.51.0.0/16 only
		t.Errorf("scoped index holds %d netblocks, want 1", scoped.Netblocks())
	}
	want, err := whole.LookupMany(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scoped.LookupMany(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, typedValues); diff != "" {
		t.Errorf("scoped (-whole +scoped):\n%s", diff)
	}
}

func sortedUnion(a, b []string) []string {
	var out []string
	for _, v := range append(append([]string(nil), a...), b...) {
		out = addCapped(out, v)
	}
	return out
}

func TestLookupManyAndJSON(t *testing.T) {
	ctx := context.Background()
	f := newFeedStore(t)
	f.run(dump)
	svc := NewService(f.st)
	if err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.9"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")}
	got, err := svc.LookupMany(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []string
	for _, r := range got {
		verdicts = append(verdicts, r.IP.String()+" "+r.Verdict)
	}
	want := []string{"198.51.100.9 " + VerdictInNetblock, "192.0.2.1 " + VerdictUnknown, "198.51.100.1 " + VerdictListed}
	if diff := cmp.Diff(want, verdicts); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	b, _ := json.Marshal(got[1])
	if string(b) != `{"ip":"192.0.2.1","verdict":"unknown","netblocks":[]}` {
		t.Errorf("unknown as JSON: %s", b)
	}
	b, _ = json.Marshal(got[0].Netblocks[0])
	if string(b) != `{"netblock":"198.51.100.0/24","listed":2,"max_importance":95,"categories":["botnet","malicious","spam"],"clusters":["c1","c2"]}` {
		t.Errorf("summary as JSON: %s", b)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.LookupMany(canceled, addrs); err == nil {
		t.Error("a canceled batch succeeded")
	}
}

// TestSummaryCapsAndMissingImportance: a netblock of many indicators lists
// at most MaxValues clusters (the lowest), and has no max importance when
// Importance is not stored.
func TestSummaryCapsAndMissingImportance(t *testing.T) {
	ctx := context.Background()
	f := newFeedStore(t)
	var csv strings.Builder
	csv.WriteString(header)
	for i := 59; i >= 0; i-- {
		csv.WriteString(row(fmt.Sprintf("10.9.9.%d", i+1), "10.9.9.0/24", fmt.Sprintf("c%02d", i), "malicious", "80"))
	}
	f.run(csv.String(), "context=Cluster,Detected Categories")
	svc := NewService(f.st)
	if err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Lookup(ctx, netip.MustParseAddr("10.9.9.200"))
	if err != nil || len(got.Netblocks) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	s := got.Netblocks[0]
	if s.Listed != 60 || s.MaxImportance != nil || len(s.Clusters) != MaxValues || s.Clusters[0] != "c00" || s.Clusters[MaxValues-1] != "c49" {
		t.Errorf("summary: %+v", s)
	}
	if b, _ := json.Marshal(s); !strings.Contains(string(b), `"max_importance":null`) {
		t.Errorf("summary as JSON: %s", b)
	}
}

// TestRebuildWhileLookingUp: a second run adds a netblock; Rebuild picks it
// up while lookups go on (run with -race), and concurrent Rebuilds all
// succeed.
func TestRebuildWhileLookingUp(t *testing.T) {
	ctx := context.Background()
	f := newFeedStore(t)
	f.run(dump)
	svc := NewService(f.st)
	if err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	before := svc.Built()
	inOld, inNew := netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("100.64.0.9")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lookups atomic.Int64
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rs, err := svc.LookupMany(ctx, []netip.Addr{inOld, inNew})
				if err != nil {
					errs <- err
					return
				}
				if rs[0].Verdict != VerdictInNetblock || (rs[1].Verdict != VerdictUnknown && rs[1].Verdict != VerdictInNetblock) {
					errs <- fmt.Errorf("during rebuild: %+v", rs)
					return
				}
				lookups.Add(1)
			}
		})
	}

	f.run(dump + row("100.64.0.1", "100.64.0.0/24", "c8", "botnet", "99"))
	var rwg sync.WaitGroup
	for range 3 {
		rwg.Go(func() {
			if err := svc.Rebuild(ctx); err != nil {
				errs <- err
			}
		})
	}
	rwg.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := svc.Lookup(ctx, inNew)
	if err != nil || got.Verdict != VerdictInNetblock || got.Netblocks[0].Netblock.String() != "100.64.0.0/24" {
		t.Errorf("after rebuild: %+v %v", got, err)
	}
	if svc.Netblocks() != 4 || !svc.Built().After(before) || lookups.Load() == 0 {
		t.Errorf("%d netblocks, built %v (before %v), %d lookups meanwhile", svc.Netblocks(), svc.Built(), before, lookups.Load())
	}
}

// gatedSource holds its first netblock walk until gate is closed.
type gatedSource struct {
	Source
	gate  chan struct{}
	walks atomic.Int64
}

func (g *gatedSource) EachNetblockMember(ctx context.Context, fn func(*store.NetblockMember) error) error {
	if g.walks.Add(1) == 1 {
		<-g.gate
	}
	return g.Source.EachNetblockMember(ctx, fn)
}

// TestRebuildsCoalesce: the callers that arrive while a build runs share
// one next build instead of queueing one each; a caller that gives up
// leaves the index as it was.
func TestRebuildsCoalesce(t *testing.T) {
	ctx := context.Background()
	f := newFeedStore(t)
	f.run(dump)
	src := &gatedSource{Source: f.st, gate: make(chan struct{})}
	svc := NewService(src)
	first := make(chan error, 1)
	go func() { first <- svc.Rebuild(ctx) }()
	for src.walks.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const waiters = 5
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() { errs <- svc.Rebuild(ctx) })
	}
	for {
		svc.mu.Lock()
		n := 0
		if svc.pending != nil {
			n = svc.pending.callers
		}
		svc.mu.Unlock()
		if n == waiters {
			break
		}
		time.Sleep(time.Millisecond)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := svc.Rebuild(canceled); err == nil {
		t.Error("a canceled rebuild succeeded while another one ran")
	}
	close(src.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := src.walks.Load(); n != 2 {
		t.Errorf("%d builds for 1 + %d callers, want 2", n, waiters)
	}
	if svc.Netblocks() != 3 {
		t.Errorf("%d netblocks", svc.Netblocks())
	}
}

// typedValues compares addresses and netblocks by value: they have
// unexported fields that go-cmp will not look into.
var typedValues = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}
