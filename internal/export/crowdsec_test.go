package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/indicator"
	"forewarn/internal/testutil"
)

// crowdsecBins finds cscli and crowdsec. CI installs Debian's crowdsec
// package and sets FOREWARN_TEST_CROWDSEC=1, which turns a missing binary
// into a failure (as FOREWARN_TEST_SURICATA does for Suricata).
func crowdsecBins(t *testing.T) (cscli, crowdsec string) {
	t.Helper()
	var err1, err2 error
	cscli, err1 = exec.LookPath("cscli")
	crowdsec, err2 = exec.LookPath("crowdsec")
	if err1 != nil || err2 != nil {
		if os.Getenv("FOREWARN_TEST_CROWDSEC") != "" {
			t.Fatal("FOREWARN_TEST_CROWDSEC is set but cscli or crowdsec is not on PATH: see the exports block of .ci/run")
		}
		t.Skip("crowdsec is not installed (apt-get install crowdsec); .ci/run installs it")
	}
	return cscli, crowdsec
}

// startCrowdSecLAPI starts CrowdSec's local API alone (-no-cs: no agent,
// no acquisition) from a configuration of its own in a temporary
// directory: a SQLite database there, a loopback port, no Central API, no
// hub download, no systemd. It returns the configuration's path, for
// cscli -c.
func startCrowdSecLAPI(t *testing.T, cscli, crowdsec string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, d := range []string{"data", "hub"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"hub/.index.json":            "{}\n",
		"simulation.yaml":            "simulation: off\n",
		"local_api_credentials.yaml": "",
		"profiles.yaml":              "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n",
		"config.yaml": fmt.Sprintf(`common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: %[1]s/
  data_dir: %[1]s/data/
  hub_dir: %[1]s/hub/
  index_path: %[1]s/hub/.index.json
  simulation_path: %[1]s/simulation.yaml
db_config:
  type: sqlite
  db_path: %[1]s/data/crowdsec.db
  use_wal: false
api:
  client:
    credentials_path: %[1]s/local_api_credentials.yaml
  server:
    listen_uri: %[2]s
    profiles_path: %[1]s/profiles.yaml
prometheus:
  enabled: false
`, dir, addr),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "config.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if out, err := exec.CommandContext(ctx, cscli, "-c", conf, "machines", "add", "forewarn-test", "--password", "forewarn-test-password",
		"-f", filepath.Join(dir, "local_api_credentials.yaml"), "--force").CombinedOutput(); err != nil {
		t.Fatalf("cscli machines add: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, crowdsec, "-c", conf, "-no-cs")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crowdsec: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The local API says when it listens; wait for that line (or the end
	// of its output, when it failed to start).
	ready := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said {
				log.WriteString(sc.Text() + "\n")
			}
			if !said && strings.Contains(sc.Text(), "Local API listening") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("crowdsec's local API did not start:\n%s", log.String())
		}
	case <-ctx.Done():
		t.Fatal("crowdsec's local API did not say it listens within 2 minutes")
	}
	return conf
}

// TestCrowdSecImportsTheDecisions imports the crowdsec export into a real
// CrowdSec with `cscli decisions import`, then lists the decisions through
// its local API: exactly the exported addresses are banned, with the
// reason forewarn gave, until forewarn's expiry of each (within the
// seconds the import and the listing take).
func TestCrowdSecImportsTheDecisions(t *testing.T) {
	cscli, crowdsec := crowdsecBins(t)
	conf := startCrowdSecLAPI(t, cscli, crowdsec)

	// Expiries a year ahead of the real clock, which cscli counts from.
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 10, Seed: 1, Token: testToken})
	st := testutil.Store(t)
	now := time.Now()
	ingest(t, st, srv, url, goldenDump, now, "age_out=8760h", "filter_by_date=false")
	expiries := map[string]time.Time{}
	if err := st.EachIndicator(context.Background(), func(ind *indicator.Indicator) error {
		if ind.ExpiresAt != nil {
			expiries[ind.Addr.String()] = *ind.ExpiresAt
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "forewarn.json")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := export.WriteCount(context.Background(), f, st, export.CrowdSec, export.Options{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var exported []struct{ Value, Reason string }
	body, _ := os.ReadFile(file)
	if err := json.Unmarshal(body, &exported); err != nil || int64(len(exported)) != n || n == 0 {
		t.Fatalf("the export holds %d decisions (%v), WriteCount said %d", len(exported), err, n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cscli, "-c", conf, "decisions", "import", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("cscli decisions import: %v\n%s", err, out)
	}
	listedAt := time.Now()
	out, err := exec.CommandContext(ctx, cscli, "-c", conf, "decisions", "list", "--all", "-o", "json").Output()
	if err != nil {
		t.Fatalf("cscli decisions list: %v\n%s", err, out)
	}
	var alerts []struct {
		Decisions []struct{ Value, Scope, Type, Scenario, Duration string }
	}
	if err := json.Unmarshal(out, &alerts); err != nil {
		t.Fatalf("cscli decisions list -o json: %v\n%.2000s", err, out)
	}
	var want, got []string
	reasons := map[string]string{}
	for _, d := range exported {
		want = append(want, d.Value)
		reasons[d.Value] = d.Reason
	}
	for _, a := range alerts {
		for _, d := range a.Decisions {
			got = append(got, d.Value)
			if d.Type != "ban" || d.Scope != "Ip" || d.Scenario != reasons[d.Value] {
				t.Errorf("%s: type %s, scope %s, reason %q; want ban, Ip, %q", d.Value, d.Type, d.Scope, d.Scenario, reasons[d.Value])
			}
			left, err := time.ParseDuration(d.Duration)
			if err != nil {
				t.Errorf("%s: duration %q: %v", d.Value, d.Duration, err)
				continue
			}
			end, exp := listedAt.Add(left), expiries[d.Value]
			if diff := end.Sub(exp); diff < -2*time.Minute || diff > 2*time.Minute {
				t.Errorf("%s: the ban ends at %s, forewarn expires it at %s (%s apart)", d.Value, end.UTC(), exp.UTC(), diff)
			}
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CrowdSec's decisions are not the exported set (-exported +listed):\n%s", diff)
	}
}
