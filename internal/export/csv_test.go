package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil"
)

// TestCSVDefusesFormulas: a vendor value that a spreadsheet would run as a
// formula is exported with a leading "'" (issue 13 D14).
func TestCSVDefusesFormulas(t *testing.T) {
	const dump = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n" +
		`45.33.10.9,2026-04-01T00:00:00,45.33.10.0/24,@sum(1),"=HYPERLINK(""http://evil.example"")",+cmd,-2+3,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,10` + "\n"
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 10, Seed: 1, Token: testToken})
	st := testutil.Store(t)
	ingest(t, st, srv, url, dump, runAt)
	var b bytes.Buffer
	if err := export.Write(context.Background(), &b, st, export.CSV, export.Options{Now: func() time.Time { return exportAt }}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %d rows, %v\n%s", len(rows), err, b.String())
	}
	got := map[string]string{}
	for i, name := range rows[0] {
		got[name] = rows[1][i]
	}
	for col, want := range map[string]string{
		"predicted_category":   "'@sum(1)",
		"cluster":              `'=HYPERLINK("http://evil.example")`,
		"detected_by":          "'+cmd",
		"detected_identifiers": "'-2+3",
		"detected_categories":  "spam",
		"ip":                   "45.33.10.9",
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q", col, got[col], want)
		}
	}
}
