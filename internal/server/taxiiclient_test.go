package server

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// taxiiClientPython finds a python3 that can import the OASIS client's
// dependencies (Debian's python3-requests, python3-six, python3-tz). CI
// installs them and sets FOREWARN_TEST_TAXII_CLIENT=1, which turns their
// absence into a failure.
func taxiiClientPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		bin, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(bin, "-c", "import requests, six, pytz").Run() == nil {
			return bin
		}
	}
	if os.Getenv("FOREWARN_TEST_TAXII_CLIENT") != "" {
		t.Fatal("FOREWARN_TEST_TAXII_CLIENT is set but no python3 imports requests, six and pytz: see .ci/run")
	}
	t.Skip("no python3 with requests, six and pytz (apt-get install python3-requests python3-six python3-tz); .ci/run installs them")
	return ""
}

type taxiiPoll struct {
	Objects []map[string]any `json:"objects"`
	Last    string           `json:"last"`
}

// indicators maps each indicator object of the poll by its name (the
// address), leaving out the revoked earlier generations of a renewed one
// (x_forewarn_superseded_by_ref).
func (p taxiiPoll) indicators() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range p.Objects {
		if o["type"] == "indicator" && o["x_forewarn_superseded_by_ref"] == nil {
			out[o["name"].(string)] = o
		}
	}
	return out
}

// TestTAXIIRemovalsReachTheOASISClient polls the active collection twice
// with OASIS's own TAXII 2.1 client, the second time with added_after set
// to the first poll's X-TAXII-Date-Added-Last, as a consumer keeping up
// does. Between the polls one indicator expires and a person whitelists
// another: the second poll returns exactly those two, published again
// with revoked: true and a newer modified, so the consumer learns to stop
// blocking them. A later run lists the expired one again: the third poll
// returns it under a new id (the old one stays revoked), and a consumer
// that polled only before the expiry and after the re-activation sees the
// old id revoked and the new one live. A last poll returns nothing. Then
// Seclytics is uninstalled with purge: the consumer that polled only at
// first sees every id it may hold revoked (the purged indicators'
// tombstones).
func TestTAXIIRemovalsReachTheOASISClient(t *testing.T) {
	py := taxiiClientPython(t)
	// The first run happens an hour ago, so the changes after the first
	// poll carry later timestamps than anything it saw.
	var clock atomic.Int64
	clock.Store(time.Now().Add(-time.Hour).Unix())
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)), func(c *Config) {
		c.FeedOptions.Now = func() time.Time { return time.Unix(clock.Load(), 0) }
	})
	// 45.33.12.7 (last seen 2026-02-01) expires half an hour ago: after the
	// first run, before the second. The others were seen a day or more
	// later and stay Active.
	lastSeen := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ageOut := (time.Since(lastSeen) - 30*time.Minute).Truncate(time.Minute)
	h.configure(map[string]any{"age_out": ageOut.String()})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	read := h.createKey("taxii-client", "read")

	poll := func(addedAfter string) taxiiPoll {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "taxii_poll.py"), h.base+"/taxii2/", read, addedAfter)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join("testdata", "taxii2-client"), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("taxii2-client poll (added_after %q): %v\n%s", addedAfter, err, stderr.String())
		}
		var p taxiiPoll
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatalf("taxii_poll.py: %v\n%s", err, out)
		}
		return p
	}
	first := poll("")
	before := first.indicators()
	var names []string
	for name, o := range before {
		names = append(names, name)
		if o["revoked"] != nil {
			t.Errorf("%s is revoked in the first poll", name)
		}
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"2a03:2880:10::5", "45.33.12.7", "45.33.12.9", "45.33.200.1"}, names); diff != "" || first.Last == "" {
		t.Fatalf("first poll (-want +got), last %q:\n%s", first.Last, diff)
	}

	h.must(200, "PATCH", "/api/v1/indicators/2a03:2880:10::5", h.admin, map[string]any{"status": "Whitelisted"})
	clock.Store(time.Now().Unix())
	run = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	if got := h.waitRun(run.body["run_id"].(float64)); got["indicators_expired"] != 1.0 {
		t.Fatalf("the second run expired %v indicators; want 1: %v", got["indicators_expired"], got)
	}

	second := poll(first.Last)
	after := second.indicators()
	for name, status := range map[string]string{"45.33.12.7": "Expired", "2a03:2880:10::5": "Whitelisted"} {
		o := after[name]
		if o == nil {
			t.Errorf("%s (%s) is not in the poll after %s", name, status, first.Last)
			continue
		}
		if o["revoked"] != true || o["x_forewarn_status"] != status || !(o["modified"].(string) > before[name]["modified"].(string)) {
			t.Errorf("%s: revoked %v, status %v, modified %v (was %v); want revoked, %s, later",
				name, o["revoked"], o["x_forewarn_status"], o["modified"], before[name]["modified"], status)
		}
	}
	if len(after) != 2 {
		t.Errorf("the poll after %s returned %d indicators; want the 2 removed: %v", first.Last, len(after), after)
	}

	// A later run lists 45.33.12.7 again (seen now): it is Active again,
	// and since STIX 2.1 forbids un-revoking an object, published under a
	// new id; the id the consumer holds as revoked is never published
	// again, so it stays revoked.
	clock.Store(time.Now().Add(time.Hour).Unix())
	seen := time.Now().UTC().Format("2006-01-02T15:04:05")
	h.fake.SetBody("a", gz(t, strings.Replace(lookupDump, "2026-01-10T00:00:00,2026-02-01T00:00:00", "2026-01-10T00:00:00,"+seen, 1)))
	run = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	third := poll(second.Last)
	back := third.indicators()
	renewed, old := back["45.33.12.7"], after["45.33.12.7"]
	switch {
	case renewed == nil:
		t.Fatalf("45.33.12.7, listed again, is not in the poll after %s: %v", second.Last, back)
	case renewed["id"] == old["id"] || renewed["revoked"] != nil || renewed["x_forewarn_status"] != "Active":
		t.Errorf("45.33.12.7 listed again: id %v (was %v), revoked %v, status %v; want a new id, not revoked, Active",
			renewed["id"], old["id"], renewed["revoked"], renewed["x_forewarn_status"])
	}
	if len(back) != 1 {
		t.Errorf("the poll after %s returned %d indicators; want the 1 listed again: %v", second.Last, len(back), back)
	}
	// The consumer's view, each id at its latest version: the old id is
	// still revoked, the new one is live, and the relationship of the new
	// one points to it.
	latest := map[string]map[string]any{}
	for _, p := range []taxiiPoll{first, second, third} {
		for _, o := range p.Objects {
			if id := o["id"].(string); latest[id] == nil || o["modified"] == nil || o["modified"].(string) >= latest[id]["modified"].(string) {
				latest[id] = o
			}
		}
	}
	if o := latest[old["id"].(string)]; o["revoked"] != true {
		t.Errorf("the consumer's copy of %v is %v; want revoked", old["id"], o)
	}
	related := false
	for _, o := range third.Objects {
		related = related || (o["type"] == "relationship" && o["source_ref"] == renewed["id"])
	}
	if !related {
		t.Errorf("no relationship of the new indicator %v in the poll: %v", renewed["id"], third.Objects)
	}
	// A consumer that polled only before the revocation and polls again
	// now, after the re-activation, never saw the old id revoked: the poll
	// gives it the old id revoked (as of the re-activation) beside the new
	// one live, so it stops holding the old one as live.
	lagging := map[string]map[string]any{}
	for _, p := range []taxiiPoll{first, poll(first.Last)} {
		for _, o := range p.Objects {
			if id := o["id"].(string); lagging[id] == nil || o["modified"] == nil || o["modified"].(string) >= lagging[id]["modified"].(string) {
				lagging[id] = o
			}
		}
	}
	oldID := before["45.33.12.7"]["id"].(string)
	if o := lagging[oldID]; o["revoked"] != true || o["x_forewarn_superseded_by_ref"] != renewed["id"] {
		t.Errorf("a consumer that polled only before the revocation and after the re-activation holds %s as %v; want revoked, superseded by %v",
			oldID, o, renewed["id"])
	}
	if o := lagging[renewed["id"].(string)]; o == nil || o["revoked"] != nil {
		t.Errorf("a consumer that polled only before the revocation and after the re-activation holds the new id %v as %v; want live", renewed["id"], o)
	}
	if fourth := poll(third.Last); len(fourth.Objects) != 0 {
		t.Errorf("a poll after the last change returned %d objects", len(fourth.Objects))
	}

	// Seclytics uninstalled with purge deletes every indicator (no list
	// feed lists them), each leaving a tombstone. The consumer that polled
	// only before the revocation polls again: every indicator id it may
	// hold comes back revoked, the last generation's modified at the
	// purge, so it stops blocking them all.
	purgeStart := time.Now().UTC().Truncate(time.Second).Format(taxiiStamp)
	if r := h.must(200, "DELETE", "/api/v1/feeds/seclytics?purge=true", h.admin, nil); r.body["indicators_deleted"] != 4.0 {
		t.Fatalf("the purge deleted %v indicators; want 4: %s", r.body["indicators_deleted"], r.raw)
	}
	purged := poll(first.Last)
	view := map[string]map[string]any{}
	for _, p := range []taxiiPoll{first, purged} {
		for _, o := range p.Objects {
			if id := o["id"].(string); view[id] == nil || o["modified"] == nil || o["modified"].(string) >= view[id]["modified"].(string) {
				view[id] = o
			}
		}
	}
	held := []string{renewed["id"].(string)}
	for _, name := range names {
		held = append(held, before[name]["id"].(string))
	}
	for _, id := range held {
		if o := view[id]; o["revoked"] != true {
			t.Errorf("after the purge, the consumer holds %s as %v; want revoked", id, o)
		}
	}
	gone := purged.indicators()
	for _, name := range names {
		o := gone[name]
		if o == nil || o["revoked"] != true || o["modified"].(string) < purgeStart {
			t.Errorf("%s after the purge: %v; want revoked, modified at the purge (from %s)", name, o, purgeStart)
		}
	}
	if o := gone["45.33.12.7"]; o != nil && o["id"] != renewed["id"] {
		t.Errorf("45.33.12.7 purged is published as %v; want the id it had, %v", o["id"], renewed["id"])
	}
}

// taxiiStamp is how TAXII and STIX write times.
const taxiiStamp = "2006-01-02T15:04:05.000Z"
