package stix_test

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/stix"
)

// BenchmarkWriteBundle measures the mapping and encoding of one indicator
// with every attribute; the store's read is not included.
func BenchmarkWriteBundle(b *testing.B) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ind := &indicator.Indicator{
		Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("45.33.10.2"), Status: indicator.StatusActive, Sources: []string{"Seclytics"},
		CreatedAt: now, UpdatedAt: now,
		Attributes: []indicator.Attribute{
			{Name: indicator.AttrCluster, Value: indicator.TextValue("3caa3b5744f91251e7ec2b45ef2d6d892786935b")},
			{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC))},
			{Name: indicator.AttrDetectedBy, Value: indicator.ListValue([]string{"uceptect_level2"})},
			{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{"spam"})},
			{Name: indicator.AttrImportance, Value: indicator.NumberValue(55)},
			{Name: indicator.AttrLastSeenAt, Value: indicator.DateValue(time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC))},
			{Name: indicator.AttrPredictedAt, Value: indicator.DateValue(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))},
			{Name: indicator.AttrPredictedNetblock, Value: indicator.CIDRValue(netip.MustParsePrefix("45.33.10.0/24"))},
		},
	}
	b.ReportAllocs()
	err := stix.WriteBundle(context.Background(), io.Discard, func(fn func(*indicator.Indicator) error) error {
		for b.Loop() {
			if err := fn(ind); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
}
