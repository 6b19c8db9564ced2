package export_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// generatedStore ingests a generated dump of rows rows, keeping everything.
func generatedStore(t *testing.T, rows int) *store.Store {
	t.Helper()
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: rows, Seed: 3, Token: testToken})
	st := testutil.Store(t)
	ingest(t, st, srv, url, "", time.Now())
	return st
}

func writeFile(t *testing.T, path string, write func(*bytes.Buffer) error) {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSuricataLoadsIPRep has a real Suricata load the suricata-iprep
// export: a minimal suricata.yaml names the categories and reputation
// files, and one iprep rule per category proves every category name
// resolves. suricata -T exits 0 even on a bad reputation line (it logs
// the error and skips the line), so the test also fails on any error
// line. CI installs Suricata and sets FOREWARN_TEST_SURICATA=1, which
// turns a missing suricata into a failure.
func TestSuricataLoadsIPRep(t *testing.T) {
	bin, err := exec.LookPath("suricata")
	if err != nil {
		if os.Getenv("FOREWARN_TEST_SURICATA") != "" {
			t.Fatal("FOREWARN_TEST_SURICATA is set but suricata is not on PATH: see the exports block of .ci/run")
		}
		t.Skip("suricata is not installed (apt-get install suricata; on Debian 12 from bookworm-backports); .ci/run installs it")
	}
	st := generatedStore(t, 3000)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "reputation.list"), func(b *bytes.Buffer) error {
		return export.Write(context.Background(), b, st, export.SuricataIPRep, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}})
	})
	writeFile(t, filepath.Join(dir, "categories.txt"), func(b *bytes.Buffer) error { return export.WriteSuricataCategories(b) })
	cats, _ := os.ReadFile(filepath.Join(dir, "categories.txt"))
	var rules strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(string(cats)), "\n") {
		name := strings.Split(line, ",")[1]
		fmt.Fprintf(&rules, "alert ip any any -> any any (msg:\"forewarn %s\"; iprep:src,%s,>,30; sid:%d;)\n", name, name, 9000001+i)
	}
	if err := os.WriteFile(filepath.Join(dir, "forewarn.rules"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`%%YAML 1.1
---
reputation-categories-file: %[1]s/categories.txt
default-reputation-path: %[1]s
reputation-files:
  - reputation.list
default-rule-path: %[1]s
rule-files:
  - forewarn.rules
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "suricata.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-T", "-c", filepath.Join(dir, "suricata.yaml"), "-l", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("suricata -T failed: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Error") || strings.Contains(line, "bad line") {
			t.Errorf("suricata: %s", line)
		}
	}
	if !strings.Contains(string(out), "Loading reputation file") {
		t.Errorf("suricata did not say it loaded the reputation file:\n%s", out)
	}
}

// TestEDLLoadsIntoNftSet loads the edl export (single addresses and
// aggregated CIDRs) into nftables interval sets inside a network namespace
// of its own, so the host's firewall is never touched. It needs nft and
// the right to create a network namespace (root, or CAP_SYS_ADMIN); it
// skips saying which is missing. README describes the same check by hand.
func TestEDLLoadsIntoNftSet(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft is not installed (apt-get install nftables): the edl export was not loaded into a real set")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed: cannot create a network namespace")
	}
	if out, err := exec.Command(unshare, "--net", nft, "list", "ruleset").CombinedOutput(); err != nil {
		t.Skipf("cannot run nft in a new network namespace (needs root or CAP_SYS_ADMIN and CAP_NET_ADMIN): %v: %s", err, bytes.TrimSpace(out))
	}
	st := generatedStore(t, 3000)
	for _, aggregate := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", aggregate), func(t *testing.T) {
			var b bytes.Buffer
			o := export.Options{Aggregate: aggregate, Filter: export.Filter{Statuses: export.AllStatuses}}
			if err := export.Write(context.Background(), &b, st, export.EDL, o); err != nil {
				t.Fatal(err)
			}
			var v4, v6 []string
			for _, line := range strings.Fields(b.String()) {
				if strings.Contains(line, ":") {
					v6 = append(v6, line)
				} else {
					v4 = append(v4, line)
				}
			}
			if len(v4) == 0 || len(v6) == 0 {
				t.Fatalf("the export has %d IPv4 and %d IPv6 lines; want both", len(v4), len(v6))
			}
			script := filepath.Join(t.TempDir(), "forewarn.nft")
			rules := fmt.Sprintf("table inet forewarn {\n set block4 { type ipv4_addr; flags interval; elements = { %s } }\n"+
				" set block6 { type ipv6_addr; flags interval; elements = { %s } }\n}\n",
				strings.Join(v4, ", "), strings.Join(v6, ", "))
			if err := os.WriteFile(script, []byte(rules), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// Load, then list the set: both in the same new namespace.
			out, err := exec.CommandContext(ctx, unshare, "--net", "sh", "-c",
				fmt.Sprintf("%s -f %s && %s list set inet forewarn block4", nft, script, nft)).CombinedOutput()
			if err != nil {
				t.Fatalf("nft did not load the edl export: %v\n%.2000s", err, out)
			}
			first := strings.TrimSuffix(v4[0], "/32")
			if !strings.Contains(string(out), first) {
				t.Errorf("the loaded set does not list %s:\n%.2000s", first, out)
			}
		})
	}
}
