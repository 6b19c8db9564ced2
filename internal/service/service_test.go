package service_test

import (
	"context"
	"errors"
	"fmt"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/runner"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// fakeRunner stands in for the runner: these tests are about what the
// service validates and records, not about running a feed (package runner
// and the server's tests run real feeds).
type fakeRunner struct {
	started  []runner.Request
	canceled []int64
	// running is the run in progress, if any.
	running *runner.Active
}

func (f *fakeRunner) Start(name string, req runner.Request) (*runner.Active, error) {
	f.started = append(f.started, req)
	return &runner.Active{ID: int64(100 + len(f.started)), Feed: name}, nil
}

func (f *fakeRunner) Running(name string) (*runner.Active, bool) {
	if f.running != nil && f.running.Feed == name {
		return f.running, true
	}
	return nil, false
}

func (f *fakeRunner) Cancel(id int64) bool {
	f.canceled = append(f.canceled, id)
	return true
}

func newService(t *testing.T) (*service.Service, *store.Store, *fakeRunner) {
	t.Helper()
	st := testutil.Store(t)
	r := &fakeRunner{}
	return service.New(service.Deps{Store: st, Runner: r, Feeds: []string{feed.Name}}), st, r
}

// Every operation refuses bad input with a *ValidationError naming each
// bad field (all of them, not only the first), and writes nothing: no key,
// no entry, no run, no configuration, no audit entry.
func TestRefusalsNameEveryBadFieldAndWriteNothing(t *testing.T) {
	ctx := context.Background()
	svc, st, fr := newService(t)
	a := service.CLI("tester")
	badCfg := config.Default()
	badCfg.Dataset = "Z"
	for _, tc := range []struct {
		name   string
		op     func() error
		fields []string
	}{
		{"key without name or role", func() error { _, _, err := svc.CreateKey(ctx, a, " ", "owner", ""); return err }, []string{"name", "role"}},
		{"key name with a space", func() error { _, _, err := svc.CreateKey(ctx, a, "bad name", "read", ""); return err }, []string{"name"}},
		{"key note on two lines", func() error { _, _, err := svc.CreateKey(ctx, a, "edl", "read", "one\ntwo"); return err }, []string{"note"}},
		{"key name a number", func() error { _, _, err := svc.CreateKey(ctx, a, "42", "read", ""); return err }, []string{"name"}},
		{"revoke nothing", func() error { _, _, err := svc.RevokeKey(ctx, a, ""); return err }, []string{"key"}},
		{"allow-list CIDR and comment", func() error {
			_, _, err := svc.AddAllowlistEntry(ctx, a, "192.0.2.0/33", strings.Repeat("c", service.MaxComment+1))
			return err
		}, []string{"cidr", "comment"}},
		{"allow-list huge CIDR", func() error { _, _, err := svc.AddAllowlistEntry(ctx, a, strings.Repeat("1", 1<<20), ""); return err }, []string{"cidr"}},
		{"remove not a CIDR", func() error { _, err := svc.RemoveAllowlistEntry(ctx, a, "x"); return err }, []string{"cidr"}},
		{"status of not an address", func() error { _, err := svc.SetIndicatorStatus(ctx, a, "not-an-ip", "gone"); return err }, []string{"value", "status"}},
		{"run window unreadable", func() error {
			_, err := svc.StartRun(ctx, a, feed.Name, service.RunRequest{Since: "yesterday", Until: "2026-13-01"})
			return err
		}, []string{"since", "until"}},
		{"run window backwards", func() error {
			_, err := svc.StartRun(ctx, a, feed.Name, service.RunRequest{Since: "2026-02-01", Until: "2026-01-01T00:00:00Z"})
			return err
		}, []string{"until"}},
		{"configuration", func() error { _, err := svc.ConfigureFeed(ctx, a, feed.Name, badCfg, false); return err }, []string{"dataset"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			var ve *service.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *service.ValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
				if f.Msg == "" || len(f.Msg) > 300 {
					t.Errorf("field %s: message %q should say what is wrong in a few words", f.Field, f.Msg)
				}
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	keys, err := st.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, state, err := st.FeedConfig(ctx, feed.Name)
	if err != nil {
		t.Fatal(err)
	}
	log, err := st.AuditLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 || len(entries) != 0 || state.Installed || len(fr.started) != 0 || len(log) != 0 {
		t.Errorf("refused operations wrote: %d keys, %d entries, installed %v, %d runs started, %d audit entries",
			len(keys), len(entries), state.Installed, len(fr.started), len(log))
	}
}

// Each change is recorded in the audit log with who made it (the key's id
// and name, and the edge), in order; a refusal or a change that changed
// nothing is not; the token never reaches the log.
func TestOperationsRecordTheirActor(t *testing.T) {
	ctx := context.Background()
	svc, st, fr := newService(t)
	alice := service.Key(store.APIKey{ID: 7, Name: "alice"}, "api")
	cfg := config.Default()
	cfg.Token = secret.New("tok-AUDIT-5e1f")
	cfg.Threshold = 85.5
	mustDo(t, func() error { _, err := svc.ConfigureFeed(ctx, alice, feed.Name, cfg, true); return err })
	mustDo(t, func() error { return svc.SetFeedEnabled(ctx, alice, feed.Name, true) })
	mustDo(t, func() error { return svc.SetFeedEnabled(ctx, alice, feed.Name, false) })
	mustDo(t, func() error { _, _, err := svc.AddAllowlistEntry(ctx, alice, " 192.0.2.7 ", " relay "); return err })
	mustDo(t, func() error { _, err := svc.RemoveAllowlistEntry(ctx, alice, "192.0.2.7/32"); return err })
	var keyID int64
	mustDo(t, func() error { _, k, err := svc.CreateKey(ctx, alice, "siem", "read", ""); keyID = k.ID; return err })
	mustDo(t, func() error { _, _, err := svc.RevokeKey(ctx, alice, "siem"); return err })
	if _, already, err := svc.RevokeKey(ctx, alice, "siem"); err != nil || !already {
		t.Errorf("revoke a revoked key: already %v, err %v; want true, nil", already, err)
	}
	var runID int64
	mustDo(t, func() error {
		a, err := svc.StartRun(ctx, alice, feed.Name, service.RunRequest{Since: "2026-01-01", DryRun: true})
		if a != nil {
			runID = a.ID
		}
		return err
	})
	running := activity.Run{Feed: feed.Name, Trigger: activity.TriggerManual, Status: activity.StatusRunning, StartedAt: time.Now()}
	mustDo(t, func() error { return st.CreateRun(ctx, &running) })
	mustDo(t, func() error { _, err := svc.CancelRun(ctx, alice, running.ID); return err })
	mustDo(t, func() error { _, err := svc.UninstallFeed(ctx, alice, feed.Name, true); return err })

	want := []string{
		"feed.configure seclytics changed: threshold, token",
		"feed.enable seclytics ",
		"feed.disable seclytics ",
		"allowlist.add 192.0.2.7/32 whitelisted 0 indicators",
		"allowlist.remove 192.0.2.7/32 ",
		fmt.Sprintf("apikey.create siem (id %d) role read", keyID),
		fmt.Sprintf("apikey.revoke siem (id %d) ", keyID),
		fmt.Sprintf("run.start seclytics run %d dry run", runID),
		fmt.Sprintf("run.cancel seclytics run %d ", running.ID),
		"feed.uninstall seclytics purged 0 indicators",
	}
	log, err := st.AuditLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(log) // newest first
	var got []string
	for _, e := range log {
		got = append(got, e.Action+" "+e.Target+" "+e.Detail)
		if e.KeyID != 7 || e.Actor != "alice" || e.Via != "api" || e.At.IsZero() {
			t.Errorf("%s: by key %d %q via %q at %v, want key 7 alice via api at a time", e.Action, e.KeyID, e.Actor, e.Via, e.At)
		}
		if strings.Contains(e.Detail+e.Target, "tok-AUDIT") {
			t.Errorf("%s: the audit log holds the token", e.Action)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	if len(fr.started) != 1 || fr.started[0].Trigger != activity.TriggerManual || !fr.started[0].DryRun ||
		fr.started[0].Since == nil || !fr.started[0].Since.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("runs started: %+v, want one manual dry run since 2026-01-01 UTC", fr.started)
	}
	if !slices.Equal(fr.canceled, []int64{running.ID}) {
		t.Errorf("runs canceled: %v, want [%d]", fr.canceled, running.ID)
	}
}

// A run that is not running cannot be canceled, and a feed forewarn does
// not know is not found, on every feed operation.
func TestConflictsAndUnknownFeeds(t *testing.T) {
	ctx := context.Background()
	svc, st, fr := newService(t)
	a := service.CLI("")
	now := time.Now()
	done := activity.Run{Feed: feed.Name, Trigger: activity.TriggerManual, Status: activity.StatusRunning, StartedAt: now}
	mustDo(t, func() error { return st.CreateRun(ctx, &done) })
	done.Status, done.FinishedAt = activity.StatusSucceeded, &now
	mustDo(t, func() error { return st.FinishRun(ctx, &done) })
	if _, err := svc.CancelRun(ctx, a, done.ID); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("cancel a finished run: %v, want a conflict saying it is not running", err)
	}
	if _, err := svc.CancelRun(ctx, a, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel run 999: %v, want not found", err)
	}
	if len(fr.canceled) != 0 {
		t.Errorf("the runner was asked to cancel %v", fr.canceled)
	}
	for name, op := range map[string]func() error{
		"configure": func() error { _, err := svc.ConfigureFeed(ctx, a, "nope", config.Default(), false); return err },
		"enable":    func() error { return svc.SetFeedEnabled(ctx, a, "nope", true) },
		"uninstall": func() error { _, err := svc.UninstallFeed(ctx, a, "nope", false); return err },
		"run":       func() error { _, err := svc.StartRun(ctx, a, "nope", service.RunRequest{}); return err },
	} {
		var uf *service.UnknownFeedError
		if err := op(); !errors.As(err, &uf) || !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), feed.Name) {
			t.Errorf("%s feed nope: %v, want an unknown-feed error (not found) listing the feeds", name, err)
		}
	}
	if err := svc.SetFeedEnabled(ctx, a, feed.Name, true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enable a feed never configured: %v, want not found", err)
	}
	// A run in progress, a dry run too (it takes no feed lock), refuses a
	// second one: they overlapped, and the dry run showed abandoned.
	fr.running = &runner.Active{ID: 77, Feed: feed.Name}
	var ip *store.InProgressError
	if _, err := svc.StartRun(ctx, a, feed.Name, service.RunRequest{DryRun: true}); !errors.As(err, &ip) || ip.RunID != 77 {
		t.Errorf("start a run while run 77 runs: %v, want in progress naming run 77", err)
	}
	if len(fr.started) != 0 {
		t.Errorf("the runner was asked to start %d runs beside run 77", len(fr.started))
	}
	fr.running = nil
	cli := service.New(service.Deps{Store: st, Feeds: []string{feed.Name}})
	if _, err := cli.StartRun(ctx, a, feed.Name, service.RunRequest{}); !errors.Is(err, service.ErrNoRunner) {
		t.Errorf("start a run without a runner: %v, want ErrNoRunner", err)
	}
}

func mustDo(t *testing.T, op func() error) {
	t.Helper()
	if err := op(); err != nil {
		t.Fatal(err)
	}
}

// ChangeStatus sets every selected indicator's status and records, for
// each, the status before, after and the person's reason: the status
// history. A refusal names every bad field and changes nothing.
func TestChangeStatusRecordsBeforeAfterAndReason(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newService(t)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		rows = append(rows, &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip)}, Exists: true, Status: indicator.StatusActive, CreatedAt: 1, UpdatedAt: 1})
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	alice := service.Key(store.APIKey{ID: 7, Name: "alice"}, "ui")
	var ve *service.ValidationError
	_, err = svc.ChangeStatus(ctx, alice, service.StatusChange{Values: []string{"198.51.100.1", "nope"}, Status: "Gone"})
	if !errors.As(err, &ve) || len(ve.Fields) != 3 {
		t.Fatalf("a bad address, status and no reason: %v, want three fields named", err)
	}
	if _, err := svc.ChangeStatus(ctx, alice, service.StatusChange{Values: []string{"198.51.100.1", "198.51.100.9"}, Status: "Review", Reason: "x"}); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "198.51.100.9") {
		t.Fatalf("an address that is not an indicator: %v, want not found naming it", err)
	}
	if ind, _ := st.Lookup(ctx, netip.MustParseAddr("198.51.100.1")); ind.Status != indicator.StatusActive {
		t.Fatalf("a refused change changed 198.51.100.1 to %s", ind.Status)
	}
	got, err := svc.ChangeStatus(ctx, alice, service.StatusChange{Values: []string{"198.51.100.1", "198.51.100.2"}, Status: "whitelisted", Reason: "our CDN"})
	if err != nil || len(got) != 2 || got[0].Status != indicator.StatusWhitelisted {
		t.Fatalf("change two: %v %v", got, err)
	}
	log, err := st.SearchAudit(ctx, store.AuditQuery{Target: "198.51.100.2"})
	if err != nil || len(log) != 1 || log[0].Detail != "Active → Whitelisted: our CDN" || log[0].Actor != "alice" {
		t.Fatalf("status history of 198.51.100.2: %+v %v, want Active → Whitelisted: our CDN by alice", log, err)
	}
}
