package view

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
)

// A client that reads .indicator.attributes[] or .netblocks[] (jq) must get
// a list, never null, for an address without either.
func TestEmptyListsAreLists(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	r := lookup.Result{IP: addr, Verdict: lookup.VerdictListed,
		Indicator: &indicator.Indicator{Type: indicator.TypeIPv4, Addr: addr, Status: indicator.StatusActive}}
	b, err := json.Marshal(LookupOf(&r))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"attributes":[]`, `"netblocks":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("lookup view %s lacks %s", b, want)
		}
	}
}
