package taxii_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"forewarn/internal/stix"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
	"forewarn/internal/testutil"
)

type listEntries []string

func (l *listEntries) Next() (store.ListEntry, error) {
	if len(*l) == 0 {
		return store.ListEntry{}, io.EOF
	}
	p := netip.MustParsePrefix((*l)[0])
	*l = (*l)[1:]
	return store.ListEntry{Prefix: p}, nil
}

// TestCollectionListsNetworks: a list feed's networks are published as
// indicators on their CIDR, and paging one object at a time through a
// network and the address it starts at returns each object once.
func TestCollectionListsNetworks(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	list := listEntries{"45.1.2.0/32", "45.1.2.0/24", "2a00:1::/48"}
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90}, &list); err != nil {
		t.Fatal(err)
	}
	hs, key := serveTAXII(ctx, t, st)
	var patterns []string
	seen := map[string]bool{}
	next := ""
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatalf("still paging after %d pages: %v", page, patterns)
		}
		req, _ := http.NewRequest("GET", hs.URL+taxii.APIRoot+"collections/"+taxii.Collections[0].ID+"/objects/?match[type]=indicator&limit=1"+next, nil)
		req.SetBasicAuth("x", key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []map[string]any `json:"objects"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: %d %v", page, resp.StatusCode, err)
		}
		for _, o := range body.Objects {
			id := o["id"].(string)
			if seen[id] {
				t.Errorf("object %s returned twice", id)
			}
			seen[id] = true
			patterns = append(patterns, o["pattern"].(string))
		}
		if !body.More {
			break
		}
		next = "&next=" + body.Next
	}
	got := strings.Join(patterns, " ")
	for _, want := range []string{"[ipv4-addr:value = '45.1.2.0']", "[ipv4-addr:value = '45.1.2.0/24']", "[ipv6-addr:value = '2a00:1::/48']"} {
		if !strings.Contains(got, want) {
			t.Errorf("patterns %s: missing %s", got, want)
		}
	}
	if len(patterns) != 3 {
		t.Errorf("%d indicator objects, want 3: %v", len(patterns), patterns)
	}

	// Each of a network's objects is found by its id, as an address's are.
	for _, id := range []string{stix.IndicatorID("45.1.2.0/24", 0), stix.ObservableID("ipv4-addr", "45.1.2.0/24"),
		stix.RelationshipID("2a00:1::/48", 0), stix.ObservableID("ipv6-addr", "2a00:1::/48"), stix.IndicatorID("45.1.2.0", 0)} {
		req, _ := http.NewRequest("GET", hs.URL+taxii.APIRoot+"collections/"+taxii.Collections[0].ID+"/objects/"+id+"/", nil)
		req.SetBasicAuth("x", key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Objects []map[string]any `json:"objects"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body.Objects) != 1 || body.Objects[0]["id"] != id {
			t.Errorf("objects/%s/: %d %v %v", id, resp.StatusCode, err, body.Objects)
		}
	}
	req, _ := http.NewRequest("GET", hs.URL+taxii.APIRoot+"collections/"+taxii.Collections[0].ID+"/objects/"+stix.IndicatorID("45.1.3.0/24", 0)+"/", nil)
	req.SetBasicAuth("x", key)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("a network no feed lists: %d, want 404", resp.StatusCode)
	}
}
