package export

import (
	"context"
	"io"

	"forewarn/internal/indicator"
	"forewarn/internal/stix"
)

// writeSTIX writes one STIX 2.1 bundle (package stix).
func writeSTIX(ctx context.Context, w io.Writer, src Source, o Options) error {
	return stix.WriteBundle(ctx, w, func(fn func(*indicator.Indicator) error) error {
		return each(ctx, src, STIX, o, func(s *selected) error { return fn(s.ind) })
	})
}
