package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"forewarn/internal/apikey"
)

// A search's date range keeps what Seclytics predicted in it (from
// included, until excluded), and the dashboard's range counts the same
// indicators; a person's time zone is kept with their API key.
func TestDateRangeAndDashboardSince(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, time.UTC) }
	writePredictions(t, s, map[string]struct {
		cat string
		at  time.Time
	}{
		"192.0.2.1": {"botnet", day(1, 15)},
		"192.0.2.2": {"botnet", day(3, 1)},
		"192.0.2.3": {"scanner", day(3, 31)},
		"192.0.2.4": {"scanner", day(4, 1)},
		"192.0.2.5": {"", time.Time{}},
	})
	march := IndicatorQuery{DateField: "predicted", From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	page, err := s.SearchIndicators(ctx, march)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ind := range page.Indicators {
		got = append(got, ind.Addr.String())
	}
	if want := []string{"192.0.2.2", "192.0.2.3"}; !slices.Equal(got, want) {
		t.Errorf("predicted in March 2026: %v, want %v", got, want)
	}
	if n, _, err := s.CountIndicators(ctx, march, 100); err != nil || n != 2 {
		t.Errorf("count of March's predictions = %d, %v; want 2", n, err)
	}
	if _, err := s.SearchIndicators(ctx, IndicatorQuery{DateField: "seen", From: march.From}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("an unknown date field: %v, want ErrBadQuery", err)
	}

	all, err := s.DashboardSince(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	since, err := s.DashboardSince(ctx, march.From)
	if err != nil {
		t.Fatal(err)
	}
	if all.Indicators != 5 || all.Statuses["Active"] != 5 {
		t.Errorf("all time: %d indicators, %d Active; want 5 and 5", all.Indicators, all.Statuses["Active"])
	}
	if since.Indicators != 3 || since.Statuses["Active"] != 3 || !since.Since.Equal(march.From) {
		t.Errorf("since March: %d indicators, %d Active, since %v; want 3, 3, %v", since.Indicators, since.Statuses["Active"], since.Since, march.From)
	}
	if since.PredictedByMonth["2026-01"] != 0 || since.PredictedByMonth["2026-03"] != 2 || since.PredictedByMonth["2026-04"] != 1 {
		t.Errorf("since March, predictions by month = %v; want none in January, 2 in March, 1 in April", since.PredictedByMonth)
	}
	if since.Independent == nil || since.Independent.Predicted != 3 {
		t.Errorf("since March, the independent lead time covers %+v predictions, want 3", since.Independent)
	}
}

func TestKeyTimeZone(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	_, a, err := s.CreateAPIKey(ctx, "alice", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := s.CreateAPIKey(ctx, "bob", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	for id, k := range map[string]int64{"sa": a.ID, "sb": b.ID} {
		if err := s.CreateUISession(ctx, id, UISession{KeyID: k, CSRF: "x", Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetKeyTimeZone(ctx, a.ID, "Europe/Paris"); err != nil {
		t.Fatal(err)
	}
	if se, err := s.UISession(ctx, "sa"); err != nil || se.TimeZone != "Europe/Paris" {
		t.Errorf("alice's session: zone %q, %v; want Europe/Paris", se.TimeZone, err)
	}
	if se, err := s.UISession(ctx, "sb"); err != nil || se.TimeZone != "" {
		t.Errorf("bob's session: zone %q, %v; want none (UTC)", se.TimeZone, err)
	}
	if err := s.SetKeyTimeZone(ctx, 999_999, "UTC"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown key: %v, want ErrNotFound", err)
	}
}
