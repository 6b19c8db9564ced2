package stix

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
)

// trickyTexts have every kind of JSON escape, HTML's three (json.Marshal
// escapes them), U+2028, invalid UTF-8.
var trickyTexts = []string{`say "hi"`, `C:\path`, "tab\tnew\nline\x00\x1f", "<b>&amp;</b>", "sep\u2028para\u2029",
	"bad\xff utf8 \xe2\x80", "héllo ✓ 𝄞", ""}

// appendCases are indicators covering every branch of the mapping: each
// status (revoked or not), IPv4, IPv6, a network, with and without each
// optional property, times out of order, odd importances.
func appendCases() []indicator.Indicator {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 7200))
	exp := t0.AddDate(0, 3, 0)
	early := t0.AddDate(-1, 0, 0)
	all := []indicator.Attribute{
		{Name: indicator.AttrCluster, Value: indicator.TextValue(trickyTexts[3])},
		{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(t0.AddDate(0, 0, -3))},
		{Name: indicator.AttrDetectedBy, Value: indicator.ListValue(trickyTexts)},
		{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{"botnet", "<spam>", trickyTexts[4]})},
		{Name: indicator.AttrImportance, Value: indicator.NumberValue(55.5)},
		{Name: indicator.AttrPredictedAt, Value: indicator.DateValue(t0.AddDate(0, 0, -1))},
		{Name: indicator.AttrPredictedNetblock, Value: indicator.CIDRValue(netip.MustParsePrefix("45.33.10.0/24"))},
	}
	var out []indicator.Indicator
	for _, st := range []indicator.Status{indicator.StatusActive, indicator.StatusExpired, indicator.StatusWhitelisted,
		indicator.StatusReview, indicator.Status(trickyTexts[0])} {
		out = append(out, indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("45.33.10.2"), Status: st,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), ExpiresAt: &exp, Attributes: all})
	}
	for _, imp := range []float64{0, 100, 99.5, 0.4, -3, 250, math.NaN(), math.Inf(1)} {
		out = append(out, indicator.Indicator{Type: indicator.TypeIPv6, Addr: netip.MustParseAddr("2001:db8::1"),
			Status: indicator.StatusActive, CreatedAt: t0, UpdatedAt: t0,
			Attributes: []indicator.Attribute{{Name: indicator.AttrImportance, Value: indicator.NumberValue(imp)}}})
	}
	return append(out,
		// No attributes; modified before created; expiry before valid_from.
		indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.1"), Status: indicator.StatusActive,
			CreatedAt: t0, UpdatedAt: early, ExpiresAt: &early},
		// Detected At only; an empty list; a cluster of every escape.
		indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.2"), Status: indicator.StatusActive,
			CreatedAt: t0, UpdatedAt: t0, Attributes: []indicator.Attribute{
				{Name: indicator.AttrCluster, Value: indicator.TextValue(trickyTexts[2] + trickyTexts[5])},
				{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(t0.AddDate(0, 0, -3))},
				{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{})},
			}},
		// A list feed's network, an IPv4-mapped address, an IPv6 network.
		indicator.Indicator{Type: indicator.TypeCIDR, Addr: netip.MustParseAddr("198.51.100.0"),
			Prefix: netip.MustParsePrefix("198.51.100.0/24"), Status: indicator.StatusActive, CreatedAt: t0, UpdatedAt: t0},
		indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("::ffff:192.0.2.9"), Status: indicator.StatusActive,
			CreatedAt: t0, UpdatedAt: t0},
		indicator.Indicator{Type: indicator.TypeCIDR, Addr: netip.MustParseAddr("2001:db8::"),
			Prefix: netip.MustParsePrefix("2001:db8::/32"), Status: indicator.StatusExpired, CreatedAt: t0, UpdatedAt: t0},
		// Brought back after a revocation: ids of their generation.
		indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.3"), Status: indicator.StatusActive,
			CreatedAt: t0, UpdatedAt: t0, Generation: 1},
		indicator.Indicator{Type: indicator.TypeCIDR, Addr: netip.MustParseAddr("2001:db8::"),
			Prefix: netip.MustParsePrefix("2001:db8::/32"), Status: indicator.StatusWhitelisted, CreatedAt: t0, UpdatedAt: t0, Generation: 12},
	)
}

// TestAppendIsForIndicator: WriteBundle's hand-written objects are
// ForIndicator's JSON, byte for byte, and its errors are the same.
func TestAppendIsForIndicator(t *testing.T) {
	var a appender
	for i, ind := range appendCases() {
		objs, err := ForIndicator(&ind)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := a.objects(&ind); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		start := 0
		for j, o := range objs {
			if got := a.buf[start:a.ends[j]]; !bytes.Equal(got, o.JSON) {
				t.Errorf("case %d (%s), object %d:\n got %s\nwant %s", i, ind.Addr, j, got, o.JSON)
			}
			start = a.ends[j]
		}
	}
	for _, ind := range []indicator.Indicator{
		{Status: indicator.StatusActive},
		{Addr: netip.MustParseAddr("192.0.2.1"), Attributes: []indicator.Attribute{{Name: indicator.AttrImportance, Value: indicator.TextValue("high")}}},
	} {
		_, want := ForIndicator(&ind)
		got := a.objects(&ind)
		if want == nil || got == nil || got.Error() != want.Error() ||
			errors.Is(got, indicator.ErrNoAddress) != errors.Is(want, indicator.ErrNoAddress) ||
			errors.Is(got, indicator.ErrWrongKind) != errors.Is(want, indicator.ErrWrongKind) {
			t.Errorf("error %v, ForIndicator's %v", got, want)
		}
	}
}
