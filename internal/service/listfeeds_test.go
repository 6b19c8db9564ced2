package service_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"forewarn/internal/activity"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// TestCustomFeedLifecycle: a custom definition is added (ids unique,
// built-ins untouchable, problems with line:column), configured with its
// parameters and a secret, run against a loopback server at the
// publisher's path, listed, and removed; every change is audit-logged with
// its actor.
func TestCustomFeedLifecycle(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newService(t)
	a := service.CLI("tester")
	src, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ve *service.ValidationError
	if _, err := svc.AddDefinition(ctx, a, []byte("id: x\ntitle: 3\nbogus: 1\n")); !errors.As(err, &ve) || !strings.Contains(ve.Fields[0].Msg, ":") {
		t.Fatalf("invalid definition: %v", err)
	} else if m := ve.Fields[0].Msg; m[0] < '1' || m[0] > '9' {
		t.Fatalf("problem without its line:column: %q", m)
	}
	if _, err := svc.AddDefinition(ctx, a, src); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddDefinition(ctx, a, src); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same id again: %v", err)
	}
	builtin := bytes.Replace(src, []byte("id: acme-threats"), []byte("id: feodo"), 1)
	if _, err := svc.AddDefinition(ctx, a, builtin); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a built-in's id: %v", err)
	}
	if err := svc.RemoveDefinition(ctx, a, "feodo"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("removing a built-in: %v", err)
	}

	if _, err := svc.ConfigureListFeed(ctx, a, "acme-threats", service.ListFeedChange{Set: map[string]string{"min_score": "900"}}); !errors.As(err, &ve) {
		t.Fatalf("out-of-range setting: %v", err)
	}
	if _, err := svc.ConfigureListFeed(ctx, a, "acme-threats", service.ListFeedChange{Set: map[string]string{"nope": "1"}}); !errors.As(err, &ve) || ve.Field() != "nope" {
		t.Fatalf("unknown parameter: %v", err)
	}
	if _, err := svc.ConfigureListFeed(ctx, a, "acme-threats", service.ListFeedChange{
		Set: map[string]string{"list": "scanners", "min_score": "10"}, Token: secret.New("acme-tok"), TokenGiven: true}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetFeedEnabled(ctx, a, "acme-threats", true); err != nil {
		t.Fatal(err)
	}

	csv, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.csv")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(csv)
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/export/scanners.csv.gz" || r.Header.Get("Authorization") != "Bearer acme-tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	r, err := svc.RunListFeed(ctx, a, "acme-threats", service.ListRunOptions{BaseURL: srv.URL, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Five data lines: four kept at a minimum score of 10, one invalid.
	if r.Status != activity.StatusSucceeded || r.IndicatorsCreated != 4 || r.Dropped.Invalid != 1 {
		t.Fatalf("run: %s, %d created, %d invalid", r.Status, r.IndicatorsCreated, r.Dropped.Invalid)
	}

	feeds, err := svc.ListFeeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(feeds, func(f service.Feed) bool { return f.Definition.ID == "acme-threats" })
	if i < 0 || feeds[i].Builtin || !feeds[i].Enabled || feeds[i].Indicators != 4 || feeds[i].LastRun == nil || feeds[i].Schedule != "6h" {
		t.Fatalf("listed: %+v", feeds)
	}
	if j := slices.IndexFunc(feeds, func(f service.Feed) bool { return f.Definition.ID == "spamhaus-drop" }); j < 0 || !feeds[j].Builtin || feeds[j].Enabled {
		t.Fatalf("built-ins are listed, disabled: %+v", feeds)
	}

	if err := svc.RemoveDefinition(ctx, a, "acme-threats"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Definition(ctx, "acme-threats"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed definition: %v", err)
	}
	log, err := st.AuditLog(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		if e.Actor != "tester" || strings.Contains(e.Detail, "acme-tok") {
			t.Errorf("audit entry %+v", e)
		}
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"feed.add", "feed.configure", "feed.enable", "run.start", "feed.remove"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log %v lacks %s", actions, want)
		}
	}
}
