package export_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
)

// TestTypedValuesReachTheExports reads the golden store as an export does
// and checks that the values arrive typed (a number, a date, a netblock, a
// list), not as text a format would have to parse back, and that the
// exports filter and rank by them.
func TestTypedValuesReachTheExports(t *testing.T) {
	st := goldenStore(t)
	want := netip.MustParseAddr("45.33.11.7")
	var got *indicator.Indicator
	err := st.EachIndicator(context.Background(), func(ind *indicator.Indicator) error {
		if ind.Addr == want {
			c := *ind
			got = &c
		}
		return nil
	})
	if err != nil || got == nil {
		t.Fatalf("read %s: %v (found: %v)", want, err, got != nil)
	}
	if f, ok := got.Attr(indicator.AttrImportance).AsNumber(); !ok || f != 90 {
		t.Errorf("Importance %+v, want the number 90", got.Attr(indicator.AttrImportance))
	}
	if d, ok := got.Attr(indicator.AttrLastSeenAt).AsTime(); !ok || !d.Equal(time.Date(2026, 4, 25, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Last Seen At %+v, want the date 2026-04-25", got.Attr(indicator.AttrLastSeenAt))
	}
	if p, ok := got.Attr(indicator.AttrPredictedNetblock).AsPrefix(); !ok || p != netip.MustParsePrefix("45.33.0.0/16") {
		t.Errorf("Predicted Netblock %+v, want the CIDR 45.33.0.0/16", got.Attr(indicator.AttrPredictedNetblock))
	}
	if v := got.Attr(indicator.AttrDetectedCategories); v.Kind != indicator.KindList || !slices.Equal(v.List, []string{"botnet", "malware"}) {
		t.Errorf("Detected Categories %+v, want the list [botnet malware]", v)
	}
	var b bytes.Buffer
	minImp := 85.0
	o := export.Options{Filter: export.Filter{MinImportance: &minImp, Categories: []string{"MALWARE"}}, Now: func() time.Time { return exportAt }}
	if err := export.Write(context.Background(), &b, st, export.EDL, o); err != nil || b.String() != "45.33.11.7\n" {
		t.Errorf("importance >= 85 in category malware: %q, %v; want only 45.33.11.7", b.String(), err)
	}
}

// listSource is a source that is not the store: what another feed or a
// bug could hand the exports.
type listSource []indicator.Indicator

func (l listSource) EachIndicator(_ context.Context, fn func(*indicator.Indicator) error) error {
	for i := range l {
		if err := fn(&l[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestMalformedIndicatorsFailTheExport: an indicator without an address,
// or with an attribute of another kind than the exports read it as,
// fails the export with an error naming it. Before values were typed both
// were dropped silently: a value that did not parse as an address left
// the indicator out, an Importance that did not parse as a number counted
// as missing, so a --min-importance export lost the indicator without a
// word.
func TestMalformedIndicatorsFailTheExport(t *testing.T) {
	ok := indicator.Indicator{Addr: netip.MustParseAddr("198.51.100.1"), Status: indicator.StatusActive,
		Attributes: []indicator.Attribute{{Name: indicator.AttrImportance, Value: indicator.NumberValue(90)}}}
	textImportance := indicator.Indicator{Addr: netip.MustParseAddr("198.51.100.2"), Status: indicator.StatusActive,
		Attributes: []indicator.Attribute{{Name: indicator.AttrImportance, Value: indicator.TextValue("high")}}}
	noAddr := indicator.Indicator{Status: indicator.StatusActive}
	minImp := 50.0
	for name, tc := range map[string]struct {
		src  listSource
		is   error
		want []string
	}{
		"text importance": {listSource{ok, textImportance}, indicator.ErrWrongKind, []string{"198.51.100.2", "Importance", "text", "number"}},
		"no address":      {listSource{ok, noAddr}, indicator.ErrNoAddress, []string{"without a valid IP address"}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, f := range export.Formats {
				var b bytes.Buffer
				o := export.Options{Filter: export.Filter{MinImportance: &minImp}}
				err := export.Write(context.Background(), &b, tc.src, f, o)
				if f.Directory() {
					_, err = export.WriteMISPFile(context.Background(), &b, tc.src, o, export.MISPHashes)
				}
				if !errors.Is(err, export.ErrBadIndicator) || !errors.Is(err, tc.is) {
					t.Fatalf("%s: %v, want ErrBadIndicator and %v", f, err, tc.is)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %q does not say %q", f, err, w)
					}
				}
			}
		})
	}
	var b bytes.Buffer
	if err := export.Write(context.Background(), &b, listSource{ok}, export.EDL, export.Options{Filter: export.Filter{MinImportance: &minImp}}); err != nil || b.String() != "198.51.100.1\n" {
		t.Errorf("a well-formed source: %q, %v", b.String(), err)
	}
}
