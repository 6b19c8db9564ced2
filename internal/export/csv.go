package export

import (
	"context"
	"encoding/csv"
	"io"
	"strings"

	"forewarn/internal/indicator"
)

// csvColumns are the integration guide's dump columns, in its order, and
// the attribute each is filled from (the first is the address itself).
var csvColumns = []struct{ name, attr string }{
	{"ip", ""},
	{"predicted_at", indicator.AttrPredictedAt},
	{"predicted_netblock", indicator.AttrPredictedNetblock},
	{"predicted_category", indicator.AttrPredictedCategory},
	{"cluster", indicator.AttrCluster},
	{"detected_by", indicator.AttrDetectedBy},
	{"detected_identifiers", indicator.AttrDetectedIdentifiers},
	{"detected_categories", indicator.AttrDetectedCategories},
	{"detected_at", indicator.AttrDetectedAt},
	{"last_seen_at", indicator.AttrLastSeenAt},
	{"importance", indicator.AttrImportance},
}

// cellSafe prefixes "'" to a value a spreadsheet would read as a formula
// (one starting with =, +, -, @, tab or CR): the values come from the
// vendor's dump, and a CSV export is opened in spreadsheets.
func cellSafe(v string) string {
	if v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		return "'" + v
	}
	return v
}

// writeCSV writes a header and one row per indicator with the guide's
// columns; list attributes are joined with ";", attributes the store did
// not keep are empty, times are RFC 3339 UTC.
func writeCSV(ctx context.Context, w io.Writer, src Source, o Options) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		row[i] = c.name
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	err := each(ctx, src, CSV, o, func(s *selected) error {
		row[0] = cellSafe(s.value())
		for i, c := range csvColumns[1:] {
			row[i+1] = cellSafe(joined(s.ind, c.attr, ";"))
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
