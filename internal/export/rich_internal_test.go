package export

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"forewarn/internal/indicator"
)

// The ecs, zeek-intel and misp-feed writers as they were before their
// hand-written encoders (encoding/json, strings.Map, fmt): the reference
// their bytes are held to.

type refECSDoc struct {
	Timestamp string       `json:"@timestamp"`
	Event     refECSEvent  `json:"event"`
	Threat    refECSThreat `json:"threat"`
}

type refECSEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
}

type refECSThreat struct {
	Feed struct {
		Name string `json:"name"`
	} `json:"feed"`
	Indicator refECSIndicator `json:"indicator"`
}

type refECSIndicator struct {
	Type        string `json:"type"`
	IP          string `json:"ip"`
	FirstSeen   string `json:"first_seen"`
	LastSeen    string `json:"last_seen"`
	ModifiedAt  string `json:"modified_at"`
	Confidence  string `json:"confidence"`
	Provider    string `json:"provider"`
	Description string `json:"description,omitempty"`
	Marking     struct {
		TLP string `json:"tlp"`
	} `json:"marking"`
}

func refECSTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func refDescribe(s *selected) string {
	parts := make([]string, 0, 4)
	if cats := joined(s.ind, indicator.AttrDetectedCategories, ", "); cats != "" {
		parts = append(parts, "categories "+cats)
	}
	if v := joined(s.ind, indicator.AttrImportance, ","); v != "" {
		parts = append(parts, "importance "+v)
	}
	if v := joined(s.ind, indicator.AttrCluster, ","); v != "" {
		parts = append(parts, "cluster "+v)
	}
	if s.netblock.IsValid() {
		parts = append(parts, "predicted netblock "+s.netblock.String())
	}
	return strings.Join(parts, "; ")
}

func referenceECS(t testing.TB, src Source, o Options) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	tlp := strings.ToUpper(o.tlp())
	stamp := refECSTime(o.now())
	err := each(context.Background(), src, ECS, o, func(s *selected) error {
		ind := s.ind
		first, last := seenRange(s)
		typ := "ipv4-addr"
		if !s.addr.Unmap().Is4() {
			typ = "ipv6-addr"
		}
		confidence := "Not Specified"
		if s.hasImportance {
			confidence = indicator.NormalizeImportance(s.importance)
		}
		provider := strings.Join(ind.Sources, ",")
		if provider == "" {
			provider = "forewarn"
		}
		d := refECSDoc{Timestamp: stamp, Event: refECSEvent{Kind: "enrichment", Category: []string{"threat"}, Type: []string{"indicator"}}}
		d.Threat.Feed.Name = "forewarn " + provider
		d.Threat.Indicator = refECSIndicator{Type: typ, IP: s.addr.String(),
			FirstSeen: refECSTime(first), LastSeen: refECSTime(last), ModifiedAt: refECSTime(ind.UpdatedAt),
			Confidence: confidence, Provider: provider, Description: refDescribe(s)}
		d.Threat.Indicator.Marking.TLP = tlp
		return enc.Encode(d)
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func refZeekField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func referenceZeek(t testing.TB, src Source, o Options) []byte {
	b := bytes.NewBufferString(zeekHeader)
	err := each(context.Background(), src, ZeekIntel, o, func(s *selected) error {
		b.WriteString(s.value())
		if s.network.IsValid() {
			b.WriteString("\tIntel::SUBNET\t")
		} else {
			b.WriteString("\tIntel::ADDR\t")
		}
		source := refZeekField(strings.Join(s.ind.Sources, ","))
		if source == "-" {
			source = "forewarn"
		}
		b.WriteString(source)
		b.WriteByte('\t')
		var parts []string
		if cats := joined(s.ind, indicator.AttrDetectedCategories, ","); cats != "" {
			parts = append(parts, "categories "+cats)
		}
		if v := joined(s.ind, indicator.AttrImportance, ","); v != "" {
			parts = append(parts, "importance "+v)
		}
		if v := joined(s.ind, indicator.AttrCluster, ","); v != "" {
			parts = append(parts, "cluster "+v)
		}
		if v := joined(s.ind, indicator.AttrLastSeenAt, ","); v != "" {
			parts = append(parts, "last seen "+v)
		}
		b.WriteString(refZeekField(strings.Join(parts, "; ")))
		b.WriteString("\t-\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type refMISPTag struct {
	Name string `json:"name"`
}

type refMISPAttribute struct {
	UUID         string       `json:"uuid"`
	Type         string       `json:"type"`
	Category     string       `json:"category"`
	Value        string       `json:"value"`
	ToIDs        bool         `json:"to_ids"`
	Distribution string       `json:"distribution"`
	Timestamp    string       `json:"timestamp"`
	FirstSeen    string       `json:"first_seen"`
	LastSeen     string       `json:"last_seen"`
	Comment      string       `json:"comment"`
	Tag          []refMISPTag `json:"Tag,omitempty"`
}

func refMISPTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// referenceMISPRender is mispRender as it was.
func referenceMISPRender(ctx context.Context, src Source, o Options, events []*mispEvent, event func(*mispEvent) io.Writer, hashes io.Writer) error {
	bySource := make(map[string]*mispEvent, len(events))
	firstAttr := make(map[*mispEvent]bool, len(events))
	for _, e := range events {
		bySource[e.source] = e
		firstAttr[e] = true
	}
	typ := o.MISPAttribute
	if typ == "" {
		typ = "ip-dst"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	return each(ctx, src, MISPFeed, o, func(s *selected) error {
		value := s.value()
		sum := md5.Sum([]byte(value))
		first, last := seenRange(s)
		for _, source := range sourcesOf(s.ind) {
			e := bySource[source]
			if e == nil {
				continue
			}
			if w := event(e); w != nil {
				tags := make([]refMISPTag, 0, 4)
				values(s.ind, indicator.AttrDetectedCategories, func(c string) {
					tags = append(tags, refMISPTag{fmt.Sprintf("forewarn:category=%q", strings.ToLower(c))})
				})
				buf.Reset()
				sep := ",\n"
				if firstAttr[e] {
					sep, firstAttr[e] = "\n", false
				}
				buf.WriteString(sep)
				if err := enc.Encode(refMISPAttribute{
					UUID: uuid.NewSHA1(uuid.MustParse(e.uuid), []byte(value)).String(), Type: typ, Category: "Network activity",
					Value: value, ToIDs: true, Distribution: "5", Timestamp: strconv.FormatInt(s.ind.UpdatedAt.Unix(), 10),
					FirstSeen: refMISPTime(first), LastSeen: refMISPTime(last), Comment: refDescribe(s), Tag: tags,
				}); err != nil {
					return err
				}
				buf.Truncate(buf.Len() - 1)
				if _, err := w.Write(buf.Bytes()); err != nil {
					return err
				}
			}
			if hashes != nil {
				fmt.Fprintf(hashes, "%s,%s\n", hex.EncodeToString(sum[:]), e.uuid)
			}
		}
		return nil
	})
}

// mispFiles renders src's MISP feed with render: each event's attributes,
// by source, and hashes.csv.
func mispFiles(t testing.TB, src Source, o Options, render func(context.Context, Source, Options, []*mispEvent, func(*mispEvent) io.Writer, io.Writer) error) map[string]string {
	ctx := context.Background()
	events, err := mispEvents(ctx, src, &o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[*mispEvent]*bytes.Buffer{}
	var hashes bytes.Buffer
	if err := render(ctx, src, o, events, func(e *mispEvent) io.Writer {
		if out[e] == nil {
			out[e] = new(bytes.Buffer)
		}
		return out[e]
	}, &hashes); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{MISPHashes: hashes.String()}
	for e, b := range out {
		files[e.source] = b.String()
	}
	return files
}

// checkRichFormats holds the ecs, zeek-intel and misp-feed writers of src
// to the reference's bytes.
func checkRichFormats(t testing.TB, src Source) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for _, o := range []Options{
		{Filter: Filter{Statuses: AllStatuses}, Now: func() time.Time { return at }},
		{Filter: Filter{Statuses: AllStatuses}, Now: func() time.Time { return at }, TLP: "amber+strict", MISPAttribute: "ip-src", Name: `feed "x"`},
	} {
		for _, c := range []struct {
			f   Format
			ref func(testing.TB, Source, Options) []byte
		}{{ECS, referenceECS}, {ZeekIntel, referenceZeek}} {
			o := o
			o.MISPAttribute = "" // misp-feed's
			if c.f == ZeekIntel {
				o.TLP = ""
			}
			var got bytes.Buffer
			if err := Write(context.Background(), &got, src, c.f, o); err != nil {
				t.Fatal(err)
			}
			if want := c.ref(t, src, o); !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the reference's:\n got %s\nwant %s", c.f, got.Bytes(), want)
			}
		}
		got, want := mispFiles(t, src, o, mispRender), mispFiles(t, src, o, referenceMISPRender)
		if len(got) != len(want) {
			t.Errorf("misp-feed: %d files, the reference %d", len(got), len(want))
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("misp-feed %s differs from the reference's:\n got %s\nwant %s", name, got[name], w)
			}
		}
	}
}

// richIndicators are trickyIndicators and more: the attributes these
// formats describe an indicator by (last seen, predicted at), categories
// of every case with quotes and invalid UTF-8 (a MISP tag quotes them),
// sources a Zeek field must clean (tabs, "-", none).
func richIndicators() indicators {
	l := trickyIndicators()
	t0 := time.Date(2026, 2, 3, 4, 5, 6, 700000000, time.UTC)
	attrs := []indicator.Attribute{
		{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{"", "Scanner", `Bad "Guy"`, "ÉTÉ\xff", "a\tb"}), Source: "Seclytics"},
		{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(t0.Add(-48 * time.Hour)), Source: "Seclytics"},
		{Name: indicator.AttrImportance, Value: indicator.NumberValue(42), Source: "Seclytics"},
		{Name: indicator.AttrLastSeenAt, Value: indicator.DateValue(t0.Add(-time.Hour)), Source: "Seclytics"},
		{Name: indicator.AttrPredictedAt, Value: indicator.DateValue(t0.Add(-72 * time.Hour)), Source: "Seclytics"},
	}
	for i, sources := range [][]string{{"-"}, {"tab\there", "new\nline\r"}, nil, {"", ""}, {"bad\xffutf8", "✓"}} {
		l = append(l, indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}),
			Status: indicator.StatusActive, Sources: sources, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(i) * time.Minute),
			Attributes: attrs[:len(attrs)-i%2]})
	}
	return l
}

// TestRichFormatsAreEncodingJSON: the hand-written ecs, zeek-intel and
// misp-feed encoders write the bytes encoding/json (and strings.Map, fmt)
// wrote, escapes and all.
func TestRichFormatsAreEncodingJSON(t *testing.T) {
	checkRichFormats(t, richIndicators())
}

func FuzzRichFormats(f *testing.F) {
	for i, s := range tricky {
		f.Add(s, tricky[(i+1)%len(tricky)], tricky[(i+2)%len(tricky)])
	}
	f.Add("-", "Scanner", "\xff\t")
	f.Fuzz(func(t *testing.T, source, category, cluster string) {
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		checkRichFormats(t, indicators{{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.7"), Status: indicator.StatusActive,
			Sources: []string{source}, CreatedAt: t0, UpdatedAt: t0, Attributes: []indicator.Attribute{
				{Name: indicator.AttrCluster, Value: indicator.TextValue(cluster), Source: source},
				{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{category, strings.ToUpper(category)}), Source: source},
			}}})
	})
}
