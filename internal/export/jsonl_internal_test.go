package export

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
)

// jsonIndicator and jsonAttribute are the structs the jsonl format was
// encoded from with encoding/json before its hand-written encoder: the
// reference its bytes are held to.
type jsonAttribute struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

type jsonIndicator struct {
	Type       string          `json:"type"`
	Value      string          `json:"value"`
	Status     string          `json:"status"`
	Sources    []string        `json:"sources"`
	Attributes []jsonAttribute `json:"attributes"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
}

// referenceJSONL is writeJSONL through encoding/json.
func referenceJSONL(t *testing.T, src Source, o Options) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	out := jsonIndicator{Attributes: []jsonAttribute{}} // never nil: [] without attributes
	err := each(context.Background(), src, JSONL, o, func(s *selected) error {
		ind := s.ind
		out = jsonIndicator{
			Type: ind.Type, Value: s.value(), Status: string(ind.Status), Sources: ind.Sources,
			Attributes: out.Attributes[:0],
			CreatedAt:  ind.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: ind.UpdatedAt.UTC().Format(time.RFC3339),
		}
		for _, a := range ind.Attributes {
			a.Value.Texts(func(v string) { out.Attributes = append(out.Attributes, jsonAttribute{a.Name, v, a.Source}) })
		}
		return enc.Encode(&out)
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// indicators is a Source of the given indicators, in the given order.
type indicators []indicator.Indicator

func (l indicators) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	for i := range l {
		if err := fn(&l[i]); err != nil {
			return err
		}
	}
	return nil
}

// tricky are texts with every kind of JSON escape: quotes, backslashes,
// control characters, HTML's three, U+2028 and U+2029, invalid UTF-8,
// multi-byte characters.
var tricky = []string{`say "hi"`, `C:\path`, "tab\tnew\nline\r\x00\x1f\b\f", "<b>&amp;</b>", "sep\u2028para\u2029",
	"bad\xff\xfe utf8 \xe2\x80", "héllo ✓ 𝄞", "\x7f", ""}

// trickyIndicators are indicators with every kind of value, texts from
// tricky, networks, no sources, no attributes (first, before any
// attribute was written, and later), odd times.
func trickyIndicators() indicators {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 7200))
	nb := netip.MustParsePrefix("192.0.2.0/24")
	return indicators{
		{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.1"), Status: indicator.StatusActive, CreatedAt: t0, UpdatedAt: t0},
		{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.2"), Status: indicator.StatusExpired, Sources: []string{},
			CreatedAt: time.Time{}, UpdatedAt: time.Unix(indicator.MaxUnix, 0)},
		{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.3"), Status: indicator.StatusActive, Sources: tricky,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), Attributes: []indicator.Attribute{
				{Name: indicator.AttrCluster, Value: indicator.TextValue(tricky[0]), Source: tricky[1]},
				{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(t0), Source: "Seclytics"},
				{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue(tricky), Source: "Seclytics"},
				{Name: indicator.AttrImportance, Value: indicator.NumberValue(85.5), Source: "Seclytics"},
				{Name: indicator.AttrPredictedNetblock, Value: indicator.CIDRValue(nb), Source: "Seclytics"},
				{Name: tricky[2], Value: indicator.TextValue(tricky[3]), Source: tricky[4]},
				{Name: "empty list", Value: indicator.ListValue(nil)},
				{Name: "none"},
				{Name: tricky[5], Value: indicator.TextValue(tricky[6]), Source: tricky[7]},
			}},
		{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.4"), Status: indicator.StatusWhitelisted, Sources: []string{"Seclytics"},
			CreatedAt: t0, UpdatedAt: t0},
		{Type: indicator.TypeCIDR, Addr: netip.MustParseAddr("198.51.100.0"), Prefix: netip.MustParsePrefix("198.51.100.0/24"),
			Status: indicator.StatusActive, Sources: []string{"Src drop"}, CreatedAt: t0, UpdatedAt: t0,
			Attributes: []indicator.Attribute{{Name: indicator.AttrImportance, Value: indicator.NumberValue(1e21)}}},
		{Type: indicator.TypeIPv6, Addr: netip.MustParseAddr("2001:db8::1"), Status: indicator.StatusReview, Sources: []string{"a", "b"},
			CreatedAt: t0, UpdatedAt: t0, Attributes: []indicator.Attribute{{Name: "n", Value: indicator.NumberValue(-0.25)}}},
		{Type: tricky[0], Addr: netip.MustParseAddr("2001:db8::2"), Status: indicator.StatusActive, CreatedAt: t0, UpdatedAt: t0},
	}
}

// TestJSONLIsEncodingJSON: the hand-written jsonl encoder writes the bytes
// encoding/json wrote, escapes and all.
func TestJSONLIsEncodingJSON(t *testing.T) {
	src := trickyIndicators()
	o := Options{Filter: Filter{Statuses: AllStatuses}}
	var got bytes.Buffer
	if err := Write(context.Background(), &got, src, JSONL, o); err != nil {
		t.Fatal(err)
	}
	want := referenceJSONL(t, src, o)
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("jsonl differs from encoding/json's:\n got %s\nwant %s", got.Bytes(), want)
	}
	if n := bytes.Count(want, []byte("\n")); n != len(src) {
		t.Errorf("%d lines, want %d: the test no longer covers every indicator", n, len(src))
	}
	// Every attribute-less indicator's attributes are [], the first one's
	// too (until 2026-12 it was null, the old encoder's quirk).
	if bytes.Contains(got.Bytes(), []byte(`"attributes":null`)) || !bytes.Contains(got.Bytes(), []byte(`"attributes":[]`)) {
		t.Errorf("jsonl writes attributes null, or not [] for those without:\n%s", got.Bytes())
	}
}
