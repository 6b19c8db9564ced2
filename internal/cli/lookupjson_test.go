package cli

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/view"
)

// lookupJSONBefore is what lookup --json printed for this result when it
// marshalled the pipeline's string-valued indicator (recorded on 13aba4e):
// the typed read model must not move it.
const lookupJSONBefore = `{"ip":"198.51.100.7","verdict":"listed","indicator":{"type":"IP Address","value":"198.51.100.7","status":"Active","sources":["Seclytics"],"attributes":[{"name":"Detected Categories","value":"botnet","source":"Seclytics","created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:00:00Z"},{"name":"Detected Categories","value":"spam","source":"Seclytics","created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:00:00Z"},{"name":"Importance","value":"85.5","source":"Seclytics","created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:00:00Z"},{"name":"Last Seen At","value":"2026-04-25T00:00:00Z","source":"Seclytics","created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:00:00Z"}],"created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T13:00:00Z"},"netblocks":[{"netblock":"198.51.100.0/24","listed":1,"max_importance":90,"categories":["botnet"],"clusters":["c1"]}]}`

func TestLookupJSONKeepsItsShape(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	imp := 90.0
	attr := func(name string, v indicator.Value) indicator.Attribute {
		return indicator.Attribute{Name: name, Value: v, Source: indicator.SourceSeclytics, CreatedAt: at, UpdatedAt: at}
	}
	addr := netip.MustParseAddr("198.51.100.7")
	r := lookup.Result{IP: addr, Verdict: lookup.VerdictListed,
		Indicator: &indicator.Indicator{Type: indicator.TypeIPv4, Addr: addr, Status: indicator.StatusActive,
			Sources: []string{indicator.SourceSeclytics}, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
			Attributes: []indicator.Attribute{
				attr(indicator.AttrDetectedCategories, indicator.ListValue([]string{"botnet", "spam"})),
				attr(indicator.AttrImportance, indicator.NumberValue(85.5)),
				attr(indicator.AttrLastSeenAt, indicator.DateValue(time.Date(2026, 4, 25, 0, 0, 0, 0, time.UTC))),
			}},
		Netblocks: []lookup.Summary{{Netblock: netip.MustParsePrefix("198.51.100.0/24"), Listed: 1, MaxImportance: &imp,
			Categories: []string{"botnet"}, Clusters: []string{"c1"}}},
	}
	b, err := json.Marshal(view.LookupOf(&r))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lookupJSONBefore, string(b)); diff != "" {
		t.Errorf("lookup --json moved (-before +now):\n%s", diff)
	}
}
