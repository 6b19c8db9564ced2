package cli

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"forewarn/internal/indicator"
)

// listed is an indicatorLister over fixed indicators: the real store
// cannot hold a value that is not an address (its keys are 16-byte
// addresses), so only a fake reaches the error path.
type listed []indicator.Indicator

func (l listed) EachIndicator(_ context.Context, fn func(*indicator.Indicator) error) error {
	for i := range l {
		if err := fn(&l[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestDemoLookupsRejectsABadValue: an indicator whose value is not an
// address makes the demo fail with an error that names it, instead of
// panicking; good values give the first two, the first one's neighbour
// and the documentation address.
func TestDemoLookupsRejectsABadValue(t *testing.T) {
	ctx := context.Background()
	_, err := demoLookups(ctx, listed{{Value: "198.51.100.7"}, {Value: "not-an-ip"}})
	if err == nil || !strings.Contains(err.Error(), `"not-an-ip"`) || !strings.Contains(err.Error(), "delete the demo store") {
		t.Errorf("bad value: %v, want an error naming it and the fix", err)
	}
	got, err := demoLookups(ctx, listed{{Value: "198.51.100.7"}, {Value: "2001:db8::1"}, {Value: "ignored"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"198.51.100.7", "2001:db8::1", "198.51.100.6", "192.0.2.1"}
	if len(got) != len(want) {
		t.Fatalf("lookups %v, want %v", got, want)
	}
	for i, a := range got {
		if a != netip.MustParseAddr(want[i]) {
			t.Errorf("lookup %d is %s, want %s", i, a, want[i])
		}
	}
}
