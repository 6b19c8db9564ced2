package export

import (
	"bytes"
	"context"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

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

// writeCSV writes a header and one row per indicator with the guide's
// columns; list attributes are joined with ";", attributes the store did
// not keep are empty, times are RFC 3339 UTC.
//
// Each row is appended to one buffer reused from row to row, as
// encoding/csv's Writer wrote it (appendCSVField; TestCSVIsEncodingCSV
// holds the two to the same bytes): the cells' texts are written where
// they go instead of joined into new strings.
func writeCSV(ctx context.Context, w io.Writer, src Source, o Options) error {
	var row, cell, text []byte
	for i, c := range csvColumns {
		if i > 0 {
			row = append(row, ',')
		}
		row = appendCSVField(row, []byte(c.name))
	}
	row = append(row, '\n')
	if _, err := w.Write(row); err != nil {
		return err
	}
	return each(ctx, src, CSV, o, func(s *selected) error {
		if s.network.IsValid() {
			text = s.network.AppendTo(text[:0])
		} else {
			text = s.addr.AppendTo(text[:0])
		}
		row = appendCSVField(row[:0], appendCellSafe(cell[:0], text))
		for _, c := range csvColumns[1:] {
			// As joined(s.ind, c.attr, ";").
			text = text[:0]
			for i := range s.ind.Attributes {
				a := &s.ind.Attributes[i]
				if a.Name != c.attr {
					continue
				}
				switch a.Value.Kind {
				case indicator.KindNone:
				case indicator.KindList:
					for _, v := range a.Value.List {
						if len(text) > 0 {
							text = append(text, ';')
						}
						text = append(text, v...)
					}
				default:
					if len(text) > 0 {
						text = append(text, ';')
					}
					text = a.Value.AppendText(text)
				}
			}
			cell = appendCellSafe(cell[:0], text)
			row = appendCSVField(append(row, ','), cell)
		}
		row = append(row, '\n')
		_, err := w.Write(row)
		return err
	})
}

// appendCellSafe appends v to dst with "'" before a value a spreadsheet
// would read as a formula (one starting with =, +, -, @, tab or CR): the
// values come from the vendor's dump, and a CSV export is opened in
// spreadsheets.
func appendCellSafe(dst, v []byte) []byte {
	if len(v) > 0 && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		dst = append(dst, '\'')
	}
	return append(dst, v...)
}

// appendCSVField appends field to dst as encoding/csv's Writer writes one
// field (comma ",", lines ending in "\n"): quoted when empty it is not and
// it is `\.`, holds a comma, a quote, CR or LF, or begins with a space;
// quotes doubled inside.
func appendCSVField(dst, field []byte) []byte {
	if !csvNeedsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for _, c := range field {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// csvNeedsQuotes is encoding/csv's Writer.fieldNeedsQuotes, comma ",".
func csvNeedsQuotes(field []byte) bool {
	if len(field) == 0 {
		return false
	}
	if string(field) == `\.` {
		return true
	}
	if bytes.ContainsAny(field, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRune(field)
	return unicode.IsSpace(r)
}
