package service

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDateFilter(t *testing.T) {
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, field, from, until string
		want                     DateFilter
		bad                      []string
	}{
		{name: "none"},
		{name: "month", from: "2026-03", until: "2026-04", want: DateFilter{"predicted", march, april}},
		{name: "detected, open end", field: "detected", from: "2026-03-01", want: DateFilter{"detected", march, time.Time{}}},
		{name: "rfc3339", until: "2026-04-01T00:00:00Z", want: DateFilter{"predicted", time.Time{}, april}},
		{name: "every bad part at once", field: "seen", from: "03/01/2026", until: "soon", bad: []string{"date", "from", "until"}},
		{name: "until before from", from: "2026-04", until: "2026-03", bad: []string{"until"}},
		{name: "too long", from: strings.Repeat("2", 100), bad: []string{"from"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDateFilter(c.field, c.from, c.until)
			var ve *ValidationError
			if len(c.bad) > 0 {
				if !errors.As(err, &ve) || len(ve.Fields) != len(c.bad) {
					t.Fatalf("err = %v, want the fields %v refused", err, c.bad)
				}
				for i, f := range ve.Fields {
					if f.Field != c.bad[i] || len(f.Msg) > 300 {
						t.Errorf("refused %s (%d bytes), want %s", f.Field, len(f.Msg), c.bad[i])
					}
				}
				return
			}
			if err != nil || got.Field != c.want.Field || !got.From.Equal(c.want.From) || !got.Until.Equal(c.want.Until) {
				t.Errorf("= %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestParseTimeZone(t *testing.T) {
	for in, want := range map[string]string{"": "", "UTC": "", "Etc/UTC": "", "Europe/Paris": "Europe/Paris", " Asia/Tokyo ": "Asia/Tokyo"} {
		if got, loc, err := ParseTimeZone("zone", in); err != nil || got != want || loc == nil {
			t.Errorf("ParseTimeZone(%q) = %q, %v, %v; want %q", in, got, loc, err, want)
		}
	}
	for _, in := range []string{"Local", "Mars/Olympus", "../../etc/passwd", strings.Repeat("A", 65)} {
		if _, _, err := ParseTimeZone("zone", in); err == nil {
			t.Errorf("ParseTimeZone(%q) accepted it", in)
		}
	}
}
