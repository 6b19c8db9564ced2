package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil/pgtest"
)

// A Last Seen At in year 9999 gave an expiry in year 10000, and lookup
// --json failed to encode it. The date is now dropped with a warning and
// the expiry stays in range.
func TestLookupJSONWithAFarDate(t *testing.T) {
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Token: token, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte("ip,predicted_netblock,last_seen_at,importance\n45.33.12.7,45.33.12.0/24,9999-12-31,80\n"))
	zw.Close()
	srv.SetBody("a", b.Bytes())
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": pgtest.Path(t, t.TempDir())}

	r := run(t, env, "run", "seclytics", "--base-url", hs.URL, "--threshold", "0", "--categories=", "--context", "all")
	if r.code != 0 || !strings.Contains(r.out, "1 warnings") || !strings.Contains(r.out, "last_seen_at") {
		t.Errorf("run: want a warning for last_seen_at: %+v", r)
	}
	r = run(t, env, "lookup", "--json", "45.33.12.7")
	if r.code != 0 || !json.Valid([]byte(r.out)) || regexp.MustCompile(`"\d{5}-`).MatchString(r.out) || !strings.Contains(r.out, `"expires_at"`) {
		t.Fatalf("lookup --json: %+v", r)
	}
}
