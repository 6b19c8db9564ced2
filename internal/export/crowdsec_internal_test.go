package export

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// crowdsecDecision is one element of the JSON array `cscli decisions
// import -i FILE.json` reads, as encoding/json encodes it.
type crowdsecDecision struct {
	Value    string `json:"value"`
	Scope    string `json:"scope"`
	Type     string `json:"type"`
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
	Origin   string `json:"origin"`
}

// TestCrowdSecIsEncodingJSON: the hand-written crowdsec encoder writes
// the bytes encoding/json wrote (HTML not escaped), escapes and all, for
// sources and categories with quotes, control characters, invalid UTF-8
// and U+2028, for an address and a network, expiring or not.
func TestCrowdSecIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, s := range tricky {
		b := brief{addr: netip.MustParseAddr("192.0.2.7"), sources: s, categories: tricky[(i+1)%len(tricky)]}
		if i%2 == 1 {
			b.network = netip.MustParsePrefix("198.51.100.0/24")
			b.expiresAt = at.Add(90*time.Minute + 1)
		}
		d := CrowdSecNoExpiry
		if !b.expiresAt.IsZero() {
			d = 90*time.Minute + time.Second
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(crowdsecDecision{Value: b.value(), Scope: crowdsecScope(&b), Type: "ban", Duration: d.String(),
			Reason: crowdsecReason(&b), Origin: CrowdSecOrigin}); err != nil {
			t.Fatal(err)
		}
		if got := appendCrowdSec(nil, &b, at); string(got) != want.String()[:want.Len()-1] {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want.Bytes())
		}
	}
}
