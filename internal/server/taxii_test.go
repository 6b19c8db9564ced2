package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/dumpgen"
	"forewarn/internal/taxii"
)

// taxiiGet sends a TAXII request with the key as the basic-auth password.
func (h *harness) taxiiGet(path, key, accept string) (int, http.Header, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+path, nil)
	if key != "" {
		req.SetBasicAuth("anyone", key)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			h.t.Fatalf("GET %s: not JSON: %q", path, raw)
		}
	}
	if resp.StatusCode == 200 && resp.Header.Get("Content-Type") != taxii.MediaTAXII {
		h.t.Fatalf("GET %s: Content-Type %q", path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, resp.Header, body
}

// A TAXII client's whole conversation: discovery, API root, collections,
// then paging through objects until more is false, every object exactly
// once; then a later poll with added_after sees only what changed.
func TestTAXIIConversation(t *testing.T) {
	fake := newFake(t, 300, nil)
	h := startServe(t, "", fake)
	h.configure(map[string]any{"context": []string{"Importance", "Detected Categories", "Cluster", "Predicted At", "Predicted Netblock", "Detected By"}})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	active := h.must(200, "GET", "/api/v1/indicators?status=Active&limit=1000", h.admin, nil).body["indicators"].([]any)
	all := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["indicators"].(float64)
	read := h.createKey("taxii-client", "read")
	const accept = "application/taxii+json;version=2.1"

	// Discovery and the API root.
	code, _, disc := h.taxiiGet("/taxii2/", read, accept)
	if code != 200 || disc["default"] != h.base+"/taxii2/api/" {
		t.Fatalf("discovery: %d %v", code, disc)
	}
	root, _ := url.Parse(disc["default"].(string))
	code, _, apiRoot := h.taxiiGet(root.Path, read, accept)
	if code != 200 || !strings.Contains(jsonString(apiRoot["versions"]), accept) {
		t.Fatalf("API root: %d %v", code, apiRoot)
	}
	code, _, cols := h.taxiiGet(root.Path+"collections/", read, accept)
	if code != 200 {
		t.Fatalf("collections: %d", code)
	}
	ids := map[string]string{}
	for _, c := range cols["collections"].([]any) {
		m := c.(map[string]any)
		if m["can_read"] != true || m["can_write"] != false {
			t.Fatalf("collection %v", m)
		}
		ids[m["alias"].(string)] = m["id"].(string)
	}
	if len(ids) != 2 || ids["seclytics-active"] == "" || ids["seclytics-all"] == "" {
		t.Fatalf("collections %v", ids)
	}
	if code, _, c := h.taxiiGet(root.Path+"collections/"+ids["seclytics-active"]+"/", read, accept); code != 200 || c["id"] != ids["seclytics-active"] {
		t.Fatalf("collection: %d %v", code, c)
	}

	// Page with an odd limit, so pages end inside an indicator's objects.
	walk := func(coll, addedAfter string) (seen map[string]int, types map[string]int, last string) {
		seen, types = map[string]int{}, map[string]int{}
		q := url.Values{"limit": {"7"}}
		if addedAfter != "" {
			q.Set("added_after", addedAfter)
		}
		for pages := 0; ; pages++ {
			if pages > 10000 {
				t.Fatal("paging does not end")
			}
			code, hdr, env := h.taxiiGet(root.Path+"collections/"+ids[coll]+"/objects/?"+q.Encode(), read, accept)
			if code != 200 {
				t.Fatalf("objects: %d %v", code, env)
			}
			objs, _ := env["objects"].([]any)
			if len(objs) > 7 {
				t.Fatalf("page of %d objects with limit 7", len(objs))
			}
			if len(objs) > 0 {
				if hdr.Get("X-TAXII-Date-Added-First") == "" || hdr.Get("X-TAXII-Date-Added-Last") == "" {
					t.Fatal("no X-TAXII-Date-Added headers")
				}
				last = max(last, hdr.Get("X-TAXII-Date-Added-Last"))
			}
			for _, o := range objs {
				m := o.(map[string]any)
				seen[m["id"].(string)]++
				types[m["type"].(string)]++
			}
			if env["more"] != true {
				return
			}
			q.Set("next", env["next"].(string))
		}
	}
	seen, types, last := walk("seclytics-active", "")
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("object %s returned %d times", id, n)
		}
	}
	if types["identity"] != 2 || types["indicator"] != len(active) || types["relationship"] != len(active) ||
		types["ipv4-addr"]+types["ipv6-addr"] != len(active) {
		t.Fatalf("active collection: %v for %d active indicators", types, len(active))
	}
	if _, allTypes, _ := walk("seclytics-all", ""); float64(allTypes["indicator"]) != all {
		t.Fatalf("all collection: %v for %v indicators", allTypes, all)
	}

	// The manifest lists the same objects.
	code, _, man := h.taxiiGet(root.Path+"collections/seclytics-active/manifest/?limit=1000", read, accept)
	if code != 200 || len(man["objects"].([]any)) != min(1000, len(seen)) {
		t.Fatalf("manifest: %d, %d records", code, len(man["objects"].([]any)))
	}
	rec := man["objects"].([]any)[5].(map[string]any)
	if rec["media_type"] != "application/stix+json;version=2.1" || rec["version"] == nil || rec["date_added"] == nil {
		t.Fatalf("manifest record %v", rec)
	}
	// One object by id, and its versions.
	var indicatorID string
	for id := range seen {
		if strings.HasPrefix(id, "indicator--") {
			indicatorID = id
			break
		}
	}
	code, _, one := h.taxiiGet(root.Path+"collections/seclytics-active/objects/"+indicatorID+"/", read, accept)
	if code != 200 || len(one["objects"].([]any)) != 1 {
		t.Fatalf("object by id: %d %v", code, one)
	}
	code, _, vers := h.taxiiGet(root.Path+"collections/seclytics-active/objects/"+indicatorID+"/versions/", read, accept)
	if code != 200 || len(vers["versions"].([]any)) != 1 {
		t.Fatalf("versions: %d %v", code, vers)
	}
	if code, _, _ := h.taxiiGet(root.Path+"collections/seclytics-active/objects/indicator--00000000-0000-5000-8000-000000000000/", read, accept); code != 404 {
		t.Fatalf("unknown object: %d", code)
	}
	// match[type]
	code, _, typed := h.taxiiGet(root.Path+"collections/seclytics-active/objects/?match[type]=identity", read, accept)
	if code != 200 || len(typed["objects"].([]any)) != 2 {
		t.Fatalf("match[type]=identity: %d %v", code, typed)
	}

	// Errors: no key, wrong Accept, unknown collection.
	if code, hdr, _ := h.taxiiGet("/taxii2/", "", accept); code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("without a key: %d", code)
	}
	if code, _, _ := h.taxiiGet("/taxii2/", read, "application/xml"); code != 406 {
		t.Fatalf("Accept: application/xml: %d", code)
	}
	if code, _, _ := h.taxiiGet(root.Path+"collections/nope/", read, accept); code != 404 {
		t.Fatalf("unknown collection: %d", code)
	}

	// A later run changes some indicators: polling with added_after from
	// the last page's header returns only those, each once.
	// Stored times are whole seconds: the second run must begin in a
	// second after the last one the first poll saw, or added_after could
	// not tell its changes apart. Wait for the clock to get there.
	lastAdded, err := time.Parse(time.RFC3339Nano, last)
	if err != nil {
		t.Fatalf("X-TAXII-Date-Added-Last %q: %v", last, err)
	}
	for deadline := time.Now().Add(10 * time.Second); !time.Now().Truncate(time.Second).After(lastAdded); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the clock did not pass %s", last)
		}
	}
	var body bytes.Buffer // gzip, as Seclytics serves it
	if _, err := dumpgen.Generate(t.Context(), &body, io.Discard, dumpgen.Options{Rows: 300, Seed: 11, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	fake.SetBody("a", body.Bytes())
	run = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	r := h.waitRun(run.body["run_id"].(float64))
	changed := int(r["indicators_updated"].(float64) + r["indicators_created"].(float64))
	if changed == 0 {
		t.Fatalf("the second run changed nothing: %v", r)
	}
	seen2, types2, _ := walk("seclytics-all", last)
	for id, n := range seen2 {
		if n != 1 {
			t.Fatalf("object %s returned %d times", id, n)
		}
	}
	if types2["identity"] != 0 || types2["indicator"] != changed {
		t.Fatalf("poll after the second run: %v, want %d changed indicators", types2, changed)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
