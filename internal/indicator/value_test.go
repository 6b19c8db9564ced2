package indicator

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestValueTexts pins the one text form every renderer writes: the same
// as the store's strings before values were typed (RFC 3339 UTC dates,
// importance as given, CIDR notation, one text per list item).
func TestValueTexts(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want []string
	}{
		{TextValue("c-spam-1"), []string{"c-spam-1"}},
		{NumberValue(85.5), []string{"85.5"}},
		{NumberValue(70), []string{"70"}},
		{DateValue(time.Date(2026, 4, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))), []string{"2026-04-02T02:04:05Z"}},
		{CIDRValue(netip.MustParsePrefix("2001:db8::/48")), []string{"2001:db8::/48"}},
		{ListValue([]string{"botnet", "spam"}), []string{"botnet", "spam"}},
		{ListValue(nil), nil},
		{Value{}, nil},
	} {
		var got []string
		tc.v.Texts(func(s string) { got = append(got, s) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s value: texts %q, want %q", tc.v.Kind, got, tc.want)
		}
		if got, want := string(tc.v.AppendText([]byte("x"))), "x"+tc.v.String(); got != want {
			t.Errorf("%s value: AppendText %q, String %q", tc.v.Kind, got, want)
		}
	}
	for _, v := range []Value{NumberValue(math.NaN()), NumberValue(math.Inf(-1)), NumberValue(1e21), NumberValue(-0.000001),
		CIDRValue(netip.Prefix{}), DateValue(time.Time{}), ListValue([]string{"a", "", "b"})} {
		if got, want := string(v.AppendText(nil)), v.String(); got != want {
			t.Errorf("%s value: AppendText %q, String %q", v.Kind, got, want)
		}
	}
}

// TestValueAccessorsModelAbsence: a reader asking for a kind the value
// does not hold, or for an attribute the indicator lacks, learns that it
// is missing instead of reading a zero (0 importance, year 1, 0.0.0.0/0).
func TestValueAccessorsModelAbsence(t *testing.T) {
	ind := Indicator{Attributes: []Attribute{
		{Name: AttrImportance, Value: NumberValue(0)},
		{Name: AttrLastSeenAt, Value: TextValue("yesterday")},
	}}
	if f, ok := ind.Attr(AttrImportance).AsNumber(); !ok || f != 0 {
		t.Errorf("importance 0: %v %v, want 0 and present", f, ok)
	}
	if _, ok := ind.Attr(AttrLastSeenAt).AsTime(); ok {
		t.Error("a text Last Seen At read as a date")
	}
	if _, ok := ind.Attr(AttrPredictedNetblock).AsPrefix(); ok {
		t.Error("a missing netblock read as present")
	}
	if v := ind.Attr(AttrCluster); v.Kind != KindNone || v.String() != "" || v.Items() != nil {
		t.Errorf("a missing attribute: %+v", v)
	}
	if _, ok := NumberValue(math.NaN()).AsTime(); ok {
		t.Error("a number read as a date")
	}
}

// TestWantNamesAWrongKind: a reader that expects a kind learns of another
// one as an error naming the address and the attribute, and of a missing
// attribute as a KindNone value without error.
func TestWantNamesAWrongKind(t *testing.T) {
	ind := Indicator{Addr: netip.MustParseAddr("198.51.100.7"), Attributes: []Attribute{
		{Name: AttrImportance, Value: TextValue("high")},
		{Name: AttrLastSeenAt, Value: DateValue(time.Unix(0, 0))},
	}}
	_, err := ind.Want(AttrImportance, KindNumber)
	if !errors.Is(err, ErrWrongKind) || err.Error() != "198.51.100.7: attribute Importance is a text value, want number: attribute value of the wrong kind" {
		t.Errorf("text Importance: %v", err)
	}
	if v, err := ind.Want(AttrLastSeenAt, KindDate); err != nil || v.Kind != KindDate {
		t.Errorf("a date: %+v %v", v, err)
	}
	if v, err := ind.Want(AttrCluster, KindText); err != nil || v.Kind != KindNone {
		t.Errorf("a missing attribute: %+v %v", v, err)
	}
}
