package export_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// mispSchemas compiles MISP's event schema twice: as vendored, and with
// the attributes' first_seen and last_seen (which MISP reads since 2.4.120
// but the vendored schema predates) allowed as strings. Both drop one
// defect the compiler refuses (draft-04's metaschema): sharing_group's
// "required" list is repeated inside its "properties", where it would
// declare a property named "required"; the list at the right level stays.
func mispSchemas(t *testing.T) (strict, withSeen *jsonschema.Schema) {
	t.Helper()
	load := func() any {
		f, err := os.Open(filepath.Join("testdata", "misp", "schema.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		sg := doc.(map[string]any)["defs"].(map[string]any)["sharing_group"].(map[string]any)
		if _, ok := sg["required"]; !ok {
			t.Fatal("schema.json changed: sharing_group has no required list")
		}
		delete(sg["properties"].(map[string]any), "required")
		return doc
	}
	compile := func(url string, doc any) *jsonschema.Schema {
		c := jsonschema.NewCompiler()
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	seen := load()
	props := seen.(map[string]any)["defs"].(map[string]any)["attribute"].(map[string]any)["properties"].(map[string]any)
	props["first_seen"] = map[string]any{"type": "string"}
	props["last_seen"] = map[string]any{"type": "string"}
	return compile("file:///misp/schema.json", load()), compile("file:///misp/schema-seen.json", seen)
}

// mispTypes reads describeTypes.json: the categories each attribute type
// is allowed in.
func mispTypes(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "misp", "describeTypes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Result struct {
			Types                []string            `json:"types"`
			CategoryTypeMappings map[string][]string `json:"category_type_mappings"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for cat, types := range d.Result.CategoryTypeMappings {
		for _, typ := range types {
			out[typ] = append(out[typ], cat)
		}
	}
	if len(out) == 0 || len(d.Result.Types) == 0 {
		t.Fatal("describeTypes.json has no types")
	}
	return out
}

type mispFeed struct {
	manifest map[string]struct {
		Info      string `json:"info"`
		Timestamp int64  `json:"timestamp"`
		Date      string `json:"date"`
	}
	hashes []string
	events map[string]mispEventFile
	files  map[string][]byte
}

type mispEventFile struct {
	Event struct {
		UUID      string `json:"uuid"`
		Info      string `json:"info"`
		Timestamp string `json:"timestamp"`
		Tag       []struct{ Name string }
		Attribute []struct {
			UUID, Type, Category, Value, Timestamp, Comment string
			ToIDs                                           bool   `json:"to_ids"`
			FirstSeen                                       string `json:"first_seen"`
			LastSeen                                        string `json:"last_seen"`
			Tag                                             []struct{ Name string }
		}
	}
}

// readMISPFeed writes the MISP feed of st into a new directory and reads
// it back, checking on the way what a MISP server relies on: every event
// validates against MISP's schema and uses attribute types and categories
// describeTypes.json allows; the manifest names exactly the event files
// there, with their timestamps; hashes.csv is the MD5 of every attribute
// value with its event; and nothing else is left in the directory.
func readMISPFeed(t *testing.T, st *store.Store, o export.Options) mispFeed {
	t.Helper()
	strict, withSeen := mispSchemas(t)
	types := mispTypes(t)
	dir := t.TempDir()
	n, err := export.WriteMISPFeed(context.Background(), dir, st, o)
	if err != nil {
		t.Fatal(err)
	}
	feed := mispFeed{events: map[string]mispEventFile{}, files: map[string][]byte{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		feed.files[e.Name()] = b
	}
	if err := json.Unmarshal(feed.files[export.MISPManifest], &feed.manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(feed.files) != len(feed.manifest)+2 {
		t.Errorf("the directory holds %d files; want the manifest, hashes.csv and the %d events it names", len(feed.files), len(feed.manifest))
	}
	var wantHashes []string
	attrs := 0
	for id, m := range feed.manifest {
		raw, ok := feed.files[id+".json"]
		if !ok {
			t.Errorf("the manifest names event %s, but %s.json is not there", id, id)
			continue
		}
		var ev mispEventFile
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s.json: %v", id, err)
		}
		validateMISP(t, id, raw, strict, withSeen)
		if ev.Event.UUID != id || ev.Event.Info != m.Info || ev.Event.Timestamp != strconv.FormatInt(m.Timestamp, 10) {
			t.Errorf("event %s: uuid %s, info %q, timestamp %s; the manifest says info %q, timestamp %d",
				id, ev.Event.UUID, ev.Event.Info, ev.Event.Timestamp, m.Info, m.Timestamp)
		}
		for _, a := range ev.Event.Attribute {
			attrs++
			if !slices.Contains(types[a.Type], a.Category) {
				t.Errorf("%s: type %s in category %q is not allowed by describeTypes.json (%v)", a.Value, a.Type, a.Category, types[a.Type])
			}
			if !a.ToIDs {
				t.Errorf("%s: to_ids is false", a.Value)
			}
			first, err1 := time.Parse(time.RFC3339Nano, a.FirstSeen)
			last, err2 := time.Parse(time.RFC3339Nano, a.LastSeen)
			if err1 != nil || err2 != nil || last.Before(first) {
				t.Errorf("%s: first_seen %q, last_seen %q", a.Value, a.FirstSeen, a.LastSeen)
			}
			sum := md5.Sum([]byte(a.Value))
			wantHashes = append(wantHashes, hex.EncodeToString(sum[:])+","+id)
		}
		feed.events[id] = ev
	}
	if int64(attrs) != n {
		t.Errorf("the events hold %d attributes; WriteMISPFeed said it wrote %d", attrs, n)
	}
	feed.hashes = strings.Fields(string(feed.files[export.MISPHashes]))
	sort.Strings(wantHashes)
	got := slices.Sorted(slices.Values(feed.hashes))
	if diff := cmp.Diff(wantHashes, got); diff != "" {
		t.Errorf("hashes.csv does not match the events' attributes (-want +got):\n%s", diff)
	}
	return feed
}

func validateMISP(t *testing.T, id string, raw []byte, strict, withSeen *jsonschema.Schema) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := withSeen.Validate(v); err != nil {
		t.Errorf("event %s does not validate against MISP's schema (with first_seen, last_seen): %v", id, err)
	}
	for _, a := range v.(map[string]any)["Event"].(map[string]any)["Attribute"].([]any) {
		delete(a.(map[string]any), "first_seen")
		delete(a.(map[string]any), "last_seen")
	}
	if err := strict.Validate(v); err != nil {
		t.Errorf("event %s without first_seen and last_seen does not validate against MISP's schema as vendored: %v", id, err)
	}
}

// values lists the attribute values of the feed's events, sorted.
func (f mispFeed) values() []string {
	var out []string
	for _, ev := range f.events {
		for _, a := range ev.Event.Attribute {
			out = append(out, a.Value)
		}
	}
	sort.Strings(out)
	return out
}

func (f mispFeed) only(t *testing.T) mispEventFile {
	t.Helper()
	if len(f.events) != 1 {
		t.Fatalf("the feed has %d events; want one, for the one feed (Seclytics)", len(f.events))
	}
	for _, ev := range f.events {
		return ev
	}
	panic("unreachable")
}

// TestMISPFeed checks a feed against MISP's own definitions, that it holds
// the addresses a blocklist of the same filter holds (Whitelisted and
// expired ones left out), that the same store writes the same bytes (so
// UUIDs are stable), and that each served file is the file written.
func TestMISPFeed(t *testing.T) {
	st := goldenStore(t)
	clock := func() time.Time { return exportAt }
	feed := readMISPFeed(t, st, export.Options{Now: clock, Filter: export.Filter{Statuses: export.AllStatuses}})
	var edl bytes.Buffer
	if err := export.Write(context.Background(), &edl, st, export.EDL, export.Options{Now: clock, Filter: export.Filter{Statuses: export.AllStatuses}}); err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(edl.String())
	sort.Strings(want)
	if diff := cmp.Diff(want, feed.values()); diff != "" {
		t.Errorf("the feed's attributes are not the blocklist's addresses (-edl +misp):\n%s", diff)
	}
	ev := feed.only(t)
	var tags []string
	for _, tag := range ev.Event.Tag {
		tags = append(tags, tag.Name)
	}
	if diff := cmp.Diff([]string{"tlp:amber", `forewarn:feed="Seclytics"`}, tags); diff != "" {
		t.Errorf("event tags (-want +got):\n%s", diff)
	}
	for _, a := range ev.Event.Attribute {
		if a.Value == "45.33.11.7" {
			var names []string
			for _, tag := range a.Tag {
				names = append(names, tag.Name)
			}
			if diff := cmp.Diff([]string{`forewarn:category="botnet"`, `forewarn:category="malware"`}, names); diff != "" || a.Type != "ip-dst" ||
				!strings.Contains(a.Comment, "importance 90") || a.FirstSeen != "2026-04-02T00:00:00.000000+00:00" || a.LastSeen != "2026-04-25T00:00:00.000000+00:00" {
				t.Errorf("45.33.11.7: type %s, tags %v, comment %q, seen %s to %s", a.Type, names, a.Comment, a.FirstSeen, a.LastSeen)
			}
		}
	}

	again := readMISPFeed(t, st, export.Options{Now: clock, Filter: export.Filter{Statuses: export.AllStatuses}})
	if diff := cmp.Diff(feed.files, again.files); diff != "" {
		t.Errorf("the same store wrote another feed (-first +second):\n%.3000s", diff)
	}
	for name, b := range feed.files {
		var got bytes.Buffer
		if _, err := export.WriteMISPFile(context.Background(), &got, st, export.Options{Now: clock, Filter: export.Filter{Statuses: export.AllStatuses}}, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(string(b), got.String()); diff != "" {
			t.Errorf("%s served differs from %s written (-written +served):\n%.2000s", name, name, diff)
		}
	}
	if _, err := export.WriteMISPFile(context.Background(), &bytes.Buffer{}, st, export.Options{}, "../etc/passwd"); !errors.Is(err, export.ErrNoMISPFile) {
		t.Errorf("an unknown file: %v; want ErrNoMISPFile", err)
	}

	src := readMISPFeed(t, st, export.Options{Now: clock, MISPAttribute: "ip-src", TLP: "green", Name: "edge"})
	for id, ev := range src.events {
		if _, ok := feed.events[id]; ok {
			t.Errorf("the feed named edge reuses event %s of the unnamed one", id)
		}
		if !strings.Contains(ev.Event.Info, "(edge)") || ev.Event.Tag[0].Name != "tlp:green" || ev.Event.Attribute[0].Type != "ip-src" {
			t.Errorf("named ip-src green feed: info %q, tag %s, type %s", ev.Event.Info, ev.Event.Tag[0].Name, ev.Event.Attribute[0].Type)
		}
	}
}

// TestMISPFeedRemovals: an indicator that expires, or is whitelisted,
// leaves its event, and the event's timestamp moves forward in the event
// and the manifest, so a MISP server polling the feed pulls it again and
// the attribute is gone there too.
func TestMISPFeedRemovals(t *testing.T) {
	st := goldenStore(t)
	at := func(t time.Time) export.Options { return export.Options{Now: func() time.Time { return t }} }
	before := readMISPFeed(t, st, at(exportAt))
	stamp := func(f mispFeed) int64 {
		ts, _ := strconv.ParseInt(f.only(t).Event.Timestamp, 10, 64)
		return ts
	}
	// 45.33.10.0 was last seen 2026-04-20: it expires 90 days later, on
	// 2026-07-19, before the expiry job marks it Expired.
	later := exportAt.AddDate(0, 2, 18)
	expired := readMISPFeed(t, st, at(later))
	if slices.Contains(expired.values(), "45.33.10.0") || !slices.Contains(before.values(), "45.33.10.0") {
		t.Errorf("45.33.10.0: in the feed before its expiry %v, after %v; want true, false",
			slices.Contains(before.values(), "45.33.10.0"), slices.Contains(expired.values(), "45.33.10.0"))
	}
	if stamp(expired) <= stamp(before) {
		t.Errorf("an expiry left the event's timestamp at %d (was %d)", stamp(expired), stamp(before))
	}

	if _, err := st.SetIndicatorStatus(context.Background(), netip.MustParseAddr("45.33.11.7"), indicator.StatusWhitelisted); err != nil {
		t.Fatal(err)
	}
	whitelisted := readMISPFeed(t, st, at(later))
	if slices.Contains(whitelisted.values(), "45.33.11.7") || !slices.Contains(expired.values(), "45.33.11.7") {
		t.Error("45.33.11.7 did not leave the feed when it was whitelisted")
	}
	if stamp(whitelisted) <= stamp(expired) {
		t.Errorf("whitelisting left the event's timestamp at %d (was %d)", stamp(whitelisted), stamp(expired))
	}
	for id, m := range whitelisted.manifest {
		if strconv.FormatInt(m.Timestamp, 10) != whitelisted.events[id].Event.Timestamp {
			t.Errorf("the manifest's timestamp %d is not the event's %s", m.Timestamp, whitelisted.events[id].Event.Timestamp)
		}
	}
}

// TestMISPFeedEventsFromIndexes: the store finds the events without reading
// every indicator, and each event's timestamp is never before the latest
// change of an indicator of its source (an expiry that passed included),
// the times a read of every indicator gives.
func TestMISPFeedEventsFromIndexes(t *testing.T) {
	st := goldenStore(t)
	for _, at := range []time.Time{exportAt, exportAt.AddDate(0, 2, 18)} {
		feed := readMISPFeed(t, st, export.Options{Now: func() time.Time { return at }})
		exact := map[string]int64{}
		err := st.EachIndicator(context.Background(), func(ind *indicator.Indicator) error {
			changed := ind.UpdatedAt
			if ind.ExpiresAt != nil && !ind.ExpiresAt.After(at) && ind.ExpiresAt.After(changed) {
				changed = *ind.ExpiresAt
			}
			for _, s := range ind.Sources {
				exact[s] = max(exact[s], changed.Unix())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, m := range feed.manifest {
			got[strings.TrimSuffix(strings.TrimPrefix(m.Info, "forewarn: "), " indicators")] = m.Timestamp
		}
		if len(got) != len(exact) {
			t.Errorf("at %s: events %v; the indicators' sources %v", at, got, exact)
		}
		for s, ts := range exact {
			if got[s] < ts {
				t.Errorf("at %s: event %s has timestamp %d, before its indicators' latest change %d", at, s, got[s], ts)
			}
		}
	}
}
