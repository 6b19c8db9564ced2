package stix_test

import (
	"context"
	"io"
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
		Type: indicator.TypeIPv4, Value: "45.33.10.2", Status: indicator.StatusActive, Sources: []string{"Seclytics"},
		CreatedAt: now, UpdatedAt: now,
		Attributes: []indicator.Attribute{
			{Name: indicator.AttrCluster, Value: "3caa3b5744f91251e7ec2b45ef2d6d892786935b"},
			{Name: indicator.AttrDetectedAt, Value: "2026-04-10T00:00:00Z"},
			{Name: indicator.AttrDetectedBy, Value: "uceptect_level2"},
			{Name: indicator.AttrDetectedCategories, Value: "spam"},
			{Name: indicator.AttrImportance, Value: "55"},
			{Name: indicator.AttrLastSeenAt, Value: "2026-04-22T00:00:00Z"},
			{Name: indicator.AttrPredictedAt, Value: "2026-04-01T00:00:00Z"},
			{Name: indicator.AttrPredictedNetblock, Value: "45.33.10.0/24"},
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
	})
	if err != nil {
		b.Fatal(err)
	}
}
