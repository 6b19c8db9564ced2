package output

import (
	"context"
	"io"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
)

// Store is what rendering reads: *store.Store.
type Store interface {
	export.NetblockSource
	export.AllowlistSource
	export.RankedSource
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// Result is what a render wrote: how many indicators, and the budget's
// cut-off, the rank of the last one that made it ("" without a budget, or
// when the budget was not filled).
type Result struct {
	Entries int64
	CutOff  string
}

// Render writes the profile name with spec s to w, as of now: the whole
// export, or for misp-feed its file named file. A budget ranks the Active
// indicators the profile's filters keep (feeds, sources, confidence)
// through the store's index, skips those whose expiry passed and those the
// allow-list covers, keeps the first Max and writes them in address order
// (export.RankedSource: the same path as forewarn export --max).
func Render(ctx context.Context, w io.Writer, st Store, name string, s Spec, file string, now time.Time) (Result, error) {
	var res Result
	o := s.exportOptions(name)
	o.Now = func() time.Time { return now }
	if s.Max > 0 {
		o.Max, o.Rank, o.HeldBudget, o.CutOff = s.Max, s.rank(), heldBudget, &res.CutOff
	}
	var err error
	if s.Format.Directory() {
		res.Entries, err = export.WriteMISPFile(ctx, w, st, o, file)
	} else {
		res.Entries, err = export.WriteCount(ctx, w, st, s.Format, o)
	}
	return res, err
}

// heldBudget is export.Options.HeldBudget for profiles (0: the default),
// set by tests to read budgets both ways.
var heldBudget = 0
