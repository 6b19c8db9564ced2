package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
)

// referenceCSV is writeCSV as it was, through encoding/csv and joined.
func referenceCSV(t *testing.T, src Source, o Options) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	row := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		row[i] = c.name
	}
	if err := cw.Write(row); err != nil {
		t.Fatal(err)
	}
	err := each(context.Background(), src, CSV, o, func(s *selected) error {
		row[0] = cellSafe(s.value())
		for i, c := range csvColumns[1:] {
			row[i+1] = cellSafe(joined(s.ind, c.attr, ";"))
		}
		return cw.Write(row)
	})
	if err != nil {
		t.Fatal(err)
	}
	cw.Flush()
	return b.Bytes()
}

// TestCSVIsEncodingCSV: the hand-written csv writer writes the bytes
// encoding/csv wrote: quoting (commas, quotes, CR, LF, a leading space,
// `\.`), formula prefixes defused, list items joined, empty items and
// repeated attributes as joined left them.
func TestCSVIsEncodingCSV(t *testing.T) {
	src := trickyIndicators()
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	texts := append([]string{" lead", "\u00a0nbsp", `\.`, "a,b", "=1+1", "+x", "-y", "@z", "\tt", "\rr", `"q"`, "x\ny", "plain", "", "é"},
		tricky...)
	for i, v := range texts {
		attrs := make([]indicator.Attribute, 0, len(csvColumns))
		for j, c := range csvColumns[1:] {
			v2 := texts[(i+j)%len(texts)]
			switch c.attr {
			case indicator.AttrImportance:
				attrs = append(attrs, indicator.Attribute{Name: c.attr, Value: indicator.NumberValue(float64(i) - 2.5)})
			case indicator.AttrPredictedAt, indicator.AttrDetectedAt, indicator.AttrLastSeenAt:
				attrs = append(attrs, indicator.Attribute{Name: c.attr, Value: indicator.DateValue(t0.AddDate(0, 0, -i))})
			case indicator.AttrPredictedNetblock:
				attrs = append(attrs, indicator.Attribute{Name: c.attr, Value: indicator.CIDRValue(netip.MustParsePrefix("10.0.0.0/8"))})
			case indicator.AttrDetectedBy, indicator.AttrDetectedCategories, indicator.AttrDetectedIdentifiers:
				attrs = append(attrs, indicator.Attribute{Name: c.attr, Value: indicator.ListValue([]string{"", v, v2, ""})},
					indicator.Attribute{Name: c.attr, Value: indicator.TextValue(v2)})
			default:
				attrs = append(attrs, indicator.Attribute{Name: c.attr, Value: indicator.TextValue(v)})
			}
		}
		src = append(src, indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}),
			Status: indicator.StatusActive, CreatedAt: t0, UpdatedAt: t0, Attributes: attrs})
	}
	o := Options{Filter: Filter{Statuses: AllStatuses}}
	var got bytes.Buffer
	if err := Write(context.Background(), &got, src, CSV, o); err != nil {
		t.Fatal(err)
	}
	want := referenceCSV(t, src, o)
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("csv differs from encoding/csv's:\n got %q\nwant %q", got.Bytes(), want)
	}
	if rows, err := csv.NewReader(bytes.NewReader(want)).ReadAll(); err != nil || len(rows) != len(src)+1 {
		t.Errorf("the reference has %d rows (%v), want %d: the test no longer covers every indicator", len(rows), err, len(src)+1)
	}
}
