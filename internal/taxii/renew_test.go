package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/stix"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
	"forewarn/internal/testutil"
)

// TestARenewedIndicatorIsPublishedUnderANewID: an address a person
// whitelisted and then brought back, and a list feed's network that left
// the list and came back, are published by TAXII (objects, manifest,
// objects/{id}) and by the STIX bundle export under the ids of their
// generation 1, the ones stix.ForIndicator gives; the indicator ids they
// were revoked under are published beside them, revoked as of the renewal
// (STIX 2.1 forbids un-revoking; a consumer that missed the revocation
// learns of it), and their old relationships no more.
func TestARenewedIndicatorIsPublishedUnderANewID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testutil.Store(t)
	now := time.Now().Unix()
	host := &merge.Stored{Status: indicator.StatusActive, CreatedAt: now - 100, UpdatedAt: now - 100}
	host.Addr = netip.MustParseAddr("192.0.2.1")
	testutil.Commit(t, st, []*merge.Stored{host})
	snapshot := func(entries ...string) {
		t.Helper()
		l := listEntries(entries)
		if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90}, &l); err != nil {
			t.Fatal(err)
		}
	}
	snapshot("45.1.2.0/24")
	oldIDs := []string{stix.IndicatorID("192.0.2.1", 0), stix.RelationshipID("192.0.2.1", 0),
		stix.IndicatorID("45.1.2.0/24", 0), stix.RelationshipID("45.1.2.0/24", 0)}

	// Revoked, then back.
	for _, s := range []indicator.Status{indicator.StatusWhitelisted, indicator.StatusActive} {
		if _, err := st.SetIndicatorStatus(ctx, host.Addr, s); err != nil {
			t.Fatal(err)
		}
	}
	snapshot("198.51.100.0/24")
	if ind, err := st.LookupNetwork(ctx, netip.MustParsePrefix("45.1.2.0/24")); err != nil || ind.Status != indicator.StatusExpired {
		t.Fatalf("the delisted network: %s, %v; want Expired", ind.Status, err)
	}
	snapshot("45.1.2.0/24")

	var want []stix.Object // the indicators' and relationships' objects
	superseded, renewedAt := map[string]stix.Object{}, map[string]string{}
	for _, read := range []func() (indicator.Indicator, error){
		func() (indicator.Indicator, error) { return st.Lookup(ctx, host.Addr) },
		func() (indicator.Indicator, error) {
			return st.LookupNetwork(ctx, netip.MustParsePrefix("45.1.2.0/24"))
		},
	} {
		ind, err := read()
		if err != nil || ind.Status != indicator.StatusActive || ind.Generation != 1 || ind.RenewedAt.IsZero() || !ind.RenewedAt.Equal(ind.UpdatedAt) {
			t.Fatalf("%s: %s generation %d renewed at %v (updated %v), %v; want Active, 1, renewed when last updated",
				ind.Value(), ind.Status, ind.Generation, ind.RenewedAt, ind.UpdatedAt, err)
		}
		objs, err := stix.ForIndicator(&ind)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, objs[0], objs[2])
		sup := stix.Superseded(&ind)
		if len(sup) != 1 {
			t.Fatalf("%s: %d superseded generations, want 1", ind.Value(), len(sup))
		}
		superseded[sup[0].ID] = sup[0]
		renewedAt[sup[0].ID] = ind.RenewedAt.UTC().Format(stix.TimeFormat)
	}

	hs, key := serveTAXII(ctx, t, st)
	get := func(path string) (int, map[string]json.RawMessage) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+taxii.APIRoot+"collections/"+taxii.Collections[0].ID+"/"+path, nil)
		req.SetBasicAuth("x", key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	byID := func(raw json.RawMessage) map[string]string {
		var objs []map[string]any
		_ = json.Unmarshal(raw, &objs)
		out := map[string]string{}
		for _, o := range objs {
			b, _ := json.Marshal(o)
			out[o["id"].(string)] = string(b)
		}
		return out
	}
	canon := func(raw []byte) string {
		var v any
		_ = json.Unmarshal(raw, &v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	_, objects := get("objects/?limit=1000")
	_, manifest := get("manifest/?limit=1000")
	published, listed := byID(objects["objects"]), byID(manifest["objects"])
	// A consumer that polled last before the revocation, and asks for
	// what changed since, gets both: the old id revoked, the new one live.
	_, changed := get("objects/?limit=1000&added_after=" + time.Unix(now-50, 0).UTC().Format(stix.TimeFormat))
	since := byID(changed["objects"])
	// Pages of two, through next, hand out the same objects, each once:
	// the earlier generation's is one more object of its indicator.
	paged, n := map[string]string{}, 0
	for next := ""; ; {
		_, pg := get("objects/?limit=2" + next)
		for id, o := range byID(pg["objects"]) {
			paged[id] = o
			n++
		}
		var tok string
		if json.Unmarshal(pg["next"], &tok) != nil || tok == "" {
			break
		}
		next = "&next=" + tok
	}
	if n != len(published) || len(paged) != len(published) {
		t.Errorf("pages of two: %d objects, %d distinct; want the %d of one page", n, len(paged), len(published))
	}
	for id, o := range published {
		if paged[id] != o {
			t.Errorf("pages of two: %s is %q, want %q", id, paged[id], o)
		}
	}
	var bundle bytes.Buffer
	if err := export.Write(ctx, &bundle, st, export.STIX, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}); err != nil {
		t.Fatal(err)
	}
	var b struct {
		Objects json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	exported := byID(b.Objects)
	for _, o := range want {
		if published[o.ID] != canon(o.JSON) {
			t.Errorf("TAXII objects: %s is %q, want ForIndicator's %s", o.ID, published[o.ID], o.JSON)
		}
		if listed[o.ID] == "" || since[o.ID] != canon(o.JSON) {
			t.Errorf("TAXII manifest lacks %s, or the poll for what changed since before the revocation (%q)", o.ID, since[o.ID])
		}
		if exported[o.ID] != canon(o.JSON) {
			t.Errorf("STIX bundle: %s is %q, want ForIndicator's %s", o.ID, exported[o.ID], o.JSON)
		}
		code, body := get("objects/" + o.ID + "/")
		if one := byID(body["objects"]); code != 200 || one[o.ID] != canon(o.JSON) {
			t.Errorf("objects/%s/: %d %v", o.ID, code, one)
		}
	}
	// The old indicator ids are published again, revoked, as of the
	// renewal (the same bytes as stix.Superseded, whatever changed
	// since); the old relationships are not (none is ever revoked).
	for i, id := range oldIDs {
		if i%2 == 1 {
			if published[id] != "" || listed[id] != "" || exported[id] != "" {
				t.Errorf("%s, a relationship of generation 0, is published again", id)
			}
			if code, _ := get("objects/" + id + "/"); code != 404 {
				t.Errorf("objects/%s/: %d, want 404", id, code)
			}
			continue
		}
		o := superseded[id]
		var sdo struct {
			Revoked  bool   `json:"revoked"`
			Modified string `json:"modified"`
		}
		if err := json.Unmarshal(o.JSON, &sdo); err != nil || !sdo.Revoked || sdo.Modified != renewedAt[id] {
			t.Errorf("%s superseded: %s (%v); want revoked, modified %s", id, o.JSON, err, renewedAt[id])
		}
		if published[id] != canon(o.JSON) || exported[id] != canon(o.JSON) {
			t.Errorf("%s, the id it was revoked under: TAXII %q, bundle %q; want revoked %s", id, published[id], exported[id], o.JSON)
		}
		if listed[id] == "" {
			t.Errorf("TAXII manifest lacks %s", id)
		}
		if since[id] != canon(o.JSON) || since[o.ID] == "" {
			t.Errorf("a poll for what changed since before the revocation: %s is %q; want revoked %s", id, since[id], o.JSON)
		}
		code, body := get("objects/" + id + "/")
		if one := byID(body["objects"]); code != 200 || one[id] != canon(o.JSON) {
			t.Errorf("objects/%s/: %d %v; want its revoked version", id, code, one)
		}
	}
}
