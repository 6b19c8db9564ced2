package export

import (
	"context"
	"io"

	"forewarn/internal/indicator"
	"forewarn/internal/stix"
)

// TombstoneSource is a Source that also holds the tombstones of the
// indicators a purge deleted (*store.Store is one): a stix bundle
// publishes them revoked (stix.Purged).
type TombstoneSource interface {
	EachTombstone(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// writeSTIX writes one STIX 2.1 bundle (package stix). From a
// TombstoneSource, the purged indicators follow the selected ones, revoked,
// whatever the filter selects but UpdatedSince (their purge time): a
// consumer of any bundle learns that the ids it holds are revoked, as it
// does of a renewed indicator's earlier ids.
func writeSTIX(ctx context.Context, w io.Writer, src Source, o Options) error {
	var purged func(fn func(*indicator.Indicator) error) error
	if ts, ok := src.(TombstoneSource); ok {
		purged = func(fn func(*indicator.Indicator) error) error {
			return ts.EachTombstone(ctx, func(ind *indicator.Indicator) error {
				if ind.UpdatedAt.Before(o.UpdatedSince) {
					return nil
				}
				return fn(ind)
			})
		}
	}
	return stix.WriteBundle(ctx, w, func(fn func(*indicator.Indicator) error) error {
		return each(ctx, src, STIX, o, func(s *selected) error { return fn(s.ind) })
	}, purged)
}
