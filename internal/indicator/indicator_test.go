package indicator

import (
	"net/netip"
	"testing"
)

func TestNormalizeImportanceBands(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  string
	}{
		{0, Low}, {39, Low}, {39.99, Low}, {40, Medium}, {69, Medium}, {69.5, Medium}, {70, High}, {100, High},
	} {
		if got := NormalizeImportance(tc.score); got != tc.want {
			t.Errorf("NormalizeImportance(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestStatusAfterSighting(t *testing.T) {
	for in, want := range map[Status]Status{
		StatusActive: StatusActive, StatusExpired: StatusActive,
		StatusWhitelisted: StatusWhitelisted, StatusReview: StatusReview,
	} {
		if got := in.AfterSighting(); got != want {
			t.Errorf("%s.AfterSighting() = %s, want %s", in, got, want)
		}
	}
}

func TestTypeOf(t *testing.T) {
	if TypeOf(netip.MustParseAddr("1.2.3.4")) != TypeIPv4 || TypeOf(netip.MustParseAddr("2001:db8::1")) != TypeIPv6 {
		t.Fatal("TypeOf wrong")
	}
}
