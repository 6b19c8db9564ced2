package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil/pgtest"
)

// A predicted netblock of 0.0.0.0/0 or ::/0 made the edl export block the
// whole Internet, ignored the allow-list, and put every address in a
// predicted netblock. Now a netblock must contain its row's address and be
// no wider than max_netblock, or the attribute is dropped with a warning;
// and an exported range never covers an allow-listed address.
func TestHostileNetblocks(t *testing.T) {
	seen := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	dump := "ip,predicted_netblock,detected_categories,last_seen_at,importance\n" +
		"45.33.12.7,0.0.0.0/0,malware," + seen + ",80\n" +
		"2a03:2880:10::5,::/0,botnet," + seen + ",90\n" +
		"45.33.12.9,99.0.0.0/24,phishing," + seen + ",55\n" +
		"80.82.77.33,80.82.77.0/24,scanner," + seen + ",40\n"
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Token: token, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(dump))
	zw.Close()
	srv.SetBody("a", b.Bytes())
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": pgtest.Path(t, t.TempDir())}

	r := run(t, env, "run", "seclytics", "--base-url", hs.URL, "--threshold", "0", "--categories=", "--context", "all")
	if r.code != 0 || !strings.Contains(r.out, "4 kept") || !strings.Contains(r.out, "3 warnings") ||
		strings.Count(r.out, "predicted_netblock") != 3 {
		t.Errorf("run: want 4 rows kept and a warning for each bad netblock: %+v", r)
	}
	// The two too-wide netblocks name the setting a Seclytics user raises.
	if n := strings.Count(r.out, "(max_netblock)"); n != 2 {
		t.Errorf("run: %d warnings name max_netblock, want the 2 netblocks wider than it: %+v", n, r)
	}
	if r = run(t, env, "lookup", "8.8.8.8", "2001:4860::8888"); r.code != 1 || strings.Count(r.out, ": unknown") != 2 {
		t.Errorf("lookup of addresses in no real netblock: %+v", r)
	}

	// An allow-listed address inside a netblock is cut out of it.
	if r = run(t, env, "allowlist", "add", "80.82.77.40", "--comment", "partner"); r.code != 0 {
		t.Fatalf("allowlist add: %+v", r)
	}
	for _, args := range [][]string{{"--netblocks"}, {"--netblocks", "--aggregate"}} {
		r = run(t, env, append([]string{"export", "--format", "edl"}, args...)...)
		if r.code != 0 {
			t.Fatalf("export %v: %+v", args, r)
		}
		checkNetblockEDL(t, args, r.out)
	}
}

// checkNetblockEDL checks that an edl export of the netblocks covers
// exactly 80.82.77.0/24 but 80.82.77.40.
func checkNetblockEDL(t *testing.T, args []string, out string) {
	t.Helper()
	allowed := netip.MustParseAddr("80.82.77.40")
	block := netip.MustParsePrefix("80.82.77.0/24")
	n := 0
	for _, line := range strings.Fields(out) {
		p, err := netip.ParsePrefix(line)
		if err != nil || !block.Contains(p.Addr()) || p.Bits() < block.Bits() || p.Contains(allowed) {
			t.Errorf("export %v wrote %q:\n%s", args, line, out)
			continue
		}
		n += 1 << (32 - p.Bits())
	}
	if n != 255 {
		t.Errorf("export %v covers %d addresses, want the 255 of %v but %v:\n%s", args, n, block, allowed, out)
	}
}
