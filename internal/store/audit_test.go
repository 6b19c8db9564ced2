package store

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// The audit log keeps entries newest first, and cuts a long text on a
// character boundary instead of storing whatever it is given.
func TestAuditLogBoundsItsEntries(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	long := strings.Repeat("é", 1<<19) // 1 MiB of two-byte characters
	for _, e := range []AuditEntry{
		{KeyID: 3, Actor: "alice", Via: "api", Action: "feed.enable", Target: "seclytics"},
		{Actor: "cli", Via: "cli", Action: "allowlist.add", Target: "x" + long, Detail: long},
	} {
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.AuditLog(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Action != "allowlist.add" || log[1].Action != "feed.enable" || log[1].KeyID != 3 || log[1].Actor != "alice" {
		t.Fatalf("audit log = %+v, want allowlist.add then feed.enable by key 3 alice", log)
	}
	for _, v := range []string{log[0].Target, log[0].Detail} {
		if len(v) > auditFieldMax || len(v) < auditFieldMax-1 || !utf8.ValidString(v) {
			t.Errorf("a 1 MiB text was stored as %d bytes (valid UTF-8: %v), want it cut to about %d", len(v), utf8.ValidString(v), auditFieldMax)
		}
	}
}

// SearchAudit filters by action (exact or a group), actor and target, and
// pages back by id: the audit page's filters.
func TestSearchAuditFilters(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, e := range []AuditEntry{
		{Actor: "alice", Via: "ui", Action: "run.start", Target: "seclytics run 1"},
		{Actor: "bob", Via: "api", Action: "run.cancel", Target: "seclytics run 1"},
		{Actor: "alice", Via: "ui", Action: "runs.other", Target: "x"},
		{Actor: "alice", Via: "ui", Action: "indicator.status", Target: "192.0.2.1", Detail: "Active → Review"},
	} {
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	actions := func(q AuditQuery) string {
		t.Helper()
		es, err := s.SearchAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Action)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		q    AuditQuery
		want string
	}{
		{AuditQuery{}, "indicator.status runs.other run.cancel run.start"},
		{AuditQuery{Action: "run."}, "run.cancel run.start"},
		{AuditQuery{Action: "run.cancel"}, "run.cancel"},
		{AuditQuery{Actor: "alice"}, "indicator.status runs.other run.start"},
		{AuditQuery{Target: "seclytics run 1"}, "run.cancel run.start"},
		{AuditQuery{Actor: "alice", Limit: 1}, "indicator.status"},
	} {
		if got := actions(c.q); got != c.want {
			t.Errorf("%+v: %q, want %q", c.q, got, c.want)
		}
	}
	all, _ := s.SearchAudit(ctx, AuditQuery{})
	if got := actions(AuditQuery{Before: all[1].ID}); got != "run.cancel run.start" {
		t.Errorf("before %d: %q, want the two oldest", all[1].ID, got)
	}
}
