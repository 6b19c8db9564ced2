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

// TestAPurgedIndicatorIsPublishedRevoked: the indicators a purge of
// Seclytics deletes are published by TAXII (objects and manifest with
// added_after, page by page; objects/{id}) and by the STIX bundle export
// as revoked versions of the ids a consumer holds, modified at the purge:
// the id of their generation and, for one renewed before, its earlier id
// as it was published (superseded). An address ingested again is
// published under its next generation's id, live, its purged id revoked
// and superseded by the new one, and its tombstone is gone.
func TestAPurgedIndicatorIsPublishedRevoked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testutil.Store(t)
	now := time.Now().Unix()
	row := func(ip string) *merge.Stored {
		r := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip), LastSeenAt: now - 200},
			Status: indicator.StatusActive, CreatedAt: now - 100, UpdatedAt: now - 100}
		r.Has = r.Has.With(merge.LastSeenAt)
		return r
	}
	testutil.Commit(t, st, []*merge.Stored{row("192.0.2.1"), row("192.0.2.2"), row("2001:db8::9")})
	for _, s := range []indicator.Status{indicator.StatusWhitelisted, indicator.StatusActive} {
		if _, err := st.SetIndicatorStatus(ctx, netip.MustParseAddr("192.0.2.2"), s); err != nil {
			t.Fatal(err)
		}
	}
	renewed, err := st.Lookup(ctx, netip.MustParseAddr("192.0.2.2"))
	if err != nil || renewed.Generation != 1 {
		t.Fatalf("set up: generation %d, %v", renewed.Generation, err)
	}
	addedAfter := "&added_after=" + time.Unix(now-50, 0).UTC().Format(stix.TimeFormat)

	start := time.Now().Truncate(time.Second)
	if n, err := st.DeleteFeed(ctx, "seclytics", true); err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
	end := time.Now()
	tombs, err := st.SearchTombstones(ctx, store.TombstoneQuery{})
	if err != nil || len(tombs.Tombstones) != 3 {
		t.Fatalf("tombstones: %d, %v; want 3", len(tombs.Tombstones), err)
	}
	purgedAt := tombs.Tombstones[0].UpdatedAt
	if purgedAt.Before(start) || purgedAt.After(end) {
		t.Fatalf("purged at %v; want between %v and %v", purgedAt, start, end)
	}
	stamp := purgedAt.UTC().Format(stix.TimeFormat)

	// What a consumer must get: each id it may hold, revoked.
	type sdo struct {
		Revoked      bool   `json:"revoked"`
		Modified     string `json:"modified"`
		Pattern      string `json:"pattern"`
		SupersededBy string `json:"x_forewarn_superseded_by_ref"`
	}
	wantSDO := map[string]sdo{
		stix.IndicatorID("192.0.2.1", 0):   {true, stamp, "[ipv4-addr:value = '192.0.2.1']", ""},
		stix.IndicatorID("192.0.2.2", 1):   {true, stamp, "[ipv4-addr:value = '192.0.2.2']", ""},
		stix.IndicatorID("2001:db8::9", 0): {true, stamp, "[ipv6-addr:value = '2001:db8::9']", ""},
		stix.IndicatorID("192.0.2.2", 0): {true, renewed.RenewedAt.UTC().Format(stix.TimeFormat), "[ipv4-addr:value = '192.0.2.2']",
			stix.IndicatorID("192.0.2.2", 1)},
	}
	want := map[string]string{}
	for i := range tombs.Tombstones {
		for _, o := range stix.Purged(&tombs.Tombstones[i]) {
			want[o.ID] = canon(o.JSON)
			var got sdo
			if err := json.Unmarshal(o.JSON, &got); err != nil || got != wantSDO[o.ID] {
				t.Errorf("stix.Purged: %s is %s (%v); want %+v", o.ID, o.JSON, err, wantSDO[o.ID])
			}
		}
	}
	if len(want) != len(wantSDO) {
		t.Errorf("stix.Purged gave %d objects, want %d: %v", len(want), len(wantSDO), want)
	}

	hs, key := serveTAXII(ctx, t, st)
	get := func(collection int, path string) (int, map[string]json.RawMessage) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+taxii.APIRoot+"collections/"+taxii.Collections[collection].ID+"/"+path, nil)
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
	const active, all = 0, 1
	paged := func(collection int, query string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for next := ""; ; {
			_, pg := get(collection, "objects/?limit=1"+query+next)
			for id, o := range byIDCanon(pg["objects"]) {
				if out[id] != "" {
					t.Errorf("%s handed out twice", id)
				}
				out[id] = o
			}
			var tok string
			if json.Unmarshal(pg["next"], &tok) != nil || tok == "" {
				return out
			}
			next = "&next=" + tok
		}
	}
	_, changed := get(active, "objects/?limit=1000"+addedAfter)
	_, listed := get(active, "manifest/?limit=1000"+addedAfter)
	_, first := get(active, "objects/?limit=1000")
	_, everything := get(all, "objects/?limit=1000")
	since, dates, firstPoll, allPoll := byIDCanon(changed["objects"]), manifestDates(listed["objects"]), byIDCanon(first["objects"]), byIDCanon(everything["objects"])
	pagedSince, pagedAll := paged(active, addedAfter), paged(all, "")
	var bundle bytes.Buffer
	if err := export.Write(ctx, &bundle, st, export.STIX, export.Options{}); err != nil {
		t.Fatal(err)
	}
	var b struct {
		Objects json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	exported := byIDCanon(b.Objects)
	for id, o := range want {
		if since[id] != o || pagedSince[id] != o {
			t.Errorf("active, added_after before the purge: %s is %q (pages of one: %q); want %s", id, since[id], pagedSince[id], o)
		}
		if dates[id] != stamp {
			t.Errorf("manifest: %s added %q; want at the purge, %s", id, dates[id], stamp)
		}
		if firstPoll[id] != "" {
			t.Errorf("active, first poll: %s is published; a first poll gets the live indicators only", id)
		}
		if allPoll[id] != o || pagedAll[id] != o {
			t.Errorf("every status: %s is %q (pages of one: %q); want %s", id, allPoll[id], pagedAll[id], o)
		}
		if exported[id] != o {
			t.Errorf("stix bundle: %s is %q; want %s", id, exported[id], o)
		}
		code, body := get(active, "objects/"+id+"/")
		if one := byIDCanon(body["objects"]); code != 200 || one[id] != o {
			t.Errorf("objects/%s/: %d %v; want %s", id, code, one, o)
		}
	}
	if len(pagedSince) != len(since) || len(pagedAll) != len(allPoll) {
		t.Errorf("pages of one: %d and %d objects; want %d and %d", len(pagedSince), len(pagedAll), len(since), len(allPoll))
	}

	// 192.0.2.1 comes back: generation 1, live; its purged id revoked,
	// superseded by the new one; no tombstone left for it.
	again := row("192.0.2.1")
	again.CreatedAt, again.UpdatedAt = time.Now().Unix(), time.Now().Unix()
	testutil.Commit(t, st, []*merge.Stored{again})
	back, err := st.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || back.Generation != 1 {
		t.Fatalf("ingested again: generation %d, %v; want 1", back.Generation, err)
	}
	if tombs, err := st.SearchTombstones(ctx, store.TombstoneQuery{}); err != nil || len(tombs.Tombstones) != 2 {
		t.Errorf("tombstones after 192.0.2.1 came back: %d, %v; want 2", len(tombs.Tombstones), err)
	}
	_, changed = get(active, "objects/?limit=1000"+addedAfter)
	since = byIDCanon(changed["objects"])
	var live, old sdo
	_ = json.Unmarshal([]byte(since[stix.IndicatorID("192.0.2.1", 1)]), &live)
	_ = json.Unmarshal([]byte(since[stix.IndicatorID("192.0.2.1", 0)]), &old)
	if live.Pattern == "" || live.Revoked || !old.Revoked || old.SupersededBy != stix.IndicatorID("192.0.2.1", 1) {
		t.Errorf("192.0.2.1 came back: new id %+v, purged id %+v; want the new one live, the purged one revoked and superseded by it", live, old)
	}
}

// canon re-encodes a JSON object with its keys sorted.
func canon(raw []byte) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// byIDCanon maps a list of STIX objects by id, each canonical.
func byIDCanon(raw json.RawMessage) map[string]string {
	var objs []map[string]any
	_ = json.Unmarshal(raw, &objs)
	out := map[string]string{}
	for _, o := range objs {
		b, _ := json.Marshal(o)
		out[o["id"].(string)] = string(b)
	}
	return out
}

// manifestDates maps a manifest's records' ids to their date_added.
func manifestDates(raw json.RawMessage) map[string]string {
	var recs []struct {
		ID        string `json:"id"`
		DateAdded string `json:"date_added"`
	}
	_ = json.Unmarshal(raw, &recs)
	out := map[string]string{}
	for _, r := range recs {
		out[r.ID] = r.DateAdded
	}
	return out
}
