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

// TestDemoLookupsRejectsABadValue: an indicator without a valid address
// makes the demo fail with an error that says so, instead of
// panicking; good values give the first two, the first one's neighbour
// and the documentation address.
func TestDemoLookupsRejectsABadValue(t *testing.T) {
	ctx := context.Background()
	addr := netip.MustParseAddr
	_, err := demoLookups(ctx, listed{{Addr: addr("198.51.100.7")}, {Status: indicator.StatusActive}})
	if err == nil || !strings.Contains(err.Error(), "without a valid IP address") || !strings.Contains(err.Error(), "delete the demo store") {
		t.Errorf("bad value: %v, want an error naming it and the fix", err)
	}
	got, err := demoLookups(ctx, listed{{Addr: addr("198.51.100.7")}, {Addr: addr("2001:db8::1")}, {}})
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
