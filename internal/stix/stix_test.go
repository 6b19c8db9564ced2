package stix_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"forewarn/internal/config"
	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/secret"
	"forewarn/internal/stix"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

const testToken = "tok-STIX-0b9d4e2f61"

// schemaBase is the $id prefix of the OASIS schemas in testdata/schemas.
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// schemas compiles the OASIS STIX 2.1 schemas for the object types
// forewarn writes, and the bundle. Every file is loaded, since they refer
// to each other with relative $refs.
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	root := filepath.Join("testdata", "schemas")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		return c.AddResource(schemaBase+filepath.ToSlash(rel), doc)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for typ, file := range map[string]string{
		"identity": "sdos/identity.json", "indicator": "sdos/indicator.json",
		"ipv4-addr": "observables/ipv4-addr.json", "ipv6-addr": "observables/ipv6-addr.json",
		"relationship": "sros/relationship.json", "bundle": "common/bundle.json",
	} {
		if out[typ], err = c.Compile(schemaBase + file); err != nil {
			t.Fatalf("compile %s: %v", file, err)
		}
	}
	return out
}

// ingest runs the feed once at now against a fake Seclytics server, keeping
// every row and attribute; body, if set, replaces the generated dump.
func ingest(t *testing.T, st *store.Store, srv *fakeseclytics.Server, url, body string, now time.Time) {
	t.Helper()
	if body != "" {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		srv.SetBody("a", b.Bytes())
		srv.SetBody("b", b.Bytes())
	}
	_, err := feed.Run(context.Background(), st, feed.Options{
		Token: secret.New(testToken), BackoffBase: time.Millisecond, StageDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		Override: config.Settings("base_url="+url, "threshold=0", "categories=", "context=all", "normalize=true", "age_out=never"),
	})
	if err != nil {
		t.Fatalf("feed run: %v", err)
	}
}

func bundle(t *testing.T, st *store.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	o := export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}
	if err := export.Write(context.Background(), &b, st, export.STIX, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestExportValidatesAgainstOASISSchemas validates every object of a real
// export of a generated dump, and the bundle as a whole.
func TestExportValidatesAgainstOASISSchemas(t *testing.T) {
	sch := schemas(t)
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 3000, Seed: 11, Token: testToken})
	st := testutil.Store(t)
	ingest(t, st, srv, url, "", time.Now())
	raw := bundle(t, st)

	var b struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("the bundle is not JSON: %v", err)
	}
	counts := map[string]int{}
	for _, obj := range b.Objects {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := v.(map[string]any)["type"].(string)
		s := sch[typ]
		if s == nil {
			t.Fatalf("an object of unexpected type %q: %s", typ, obj)
		}
		if err := s.Validate(v); err != nil {
			t.Fatalf("%s does not validate: %v\n%s", typ, err, obj)
		}
		counts[typ]++
	}
	// The schemas are not vacuous: an indicator without its pattern, or
	// with a second-precision created, is rejected.
	for _, broken := range []string{
		`{"type":"indicator","spec_version":"2.1","id":"indicator--e3911b46-56de-5930-b4c7-4bf0b656bf10","created":"2026-05-01T12:00:00.000Z","modified":"2026-05-01T12:00:00.000Z","pattern_type":"stix","valid_from":"2026-04-01T00:00:00.000Z"}`,
		`{"type":"indicator","spec_version":"2.1","id":"indicator--e3911b46-56de-5930-b4c7-4bf0b656bf10","created":"2026-05-01T12:00:00Z","modified":"2026-05-01T12:00:00.000Z","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2026-04-01T00:00:00.000Z"}`,
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(broken))
		if sch["indicator"].Validate(v) == nil {
			t.Errorf("the indicator schema accepted %s", broken)
		}
	}
	n := counts["indicator"]
	if n < 1000 || counts["relationship"] != n || counts["ipv4-addr"]+counts["ipv6-addr"] != n || counts["identity"] != 2 {
		t.Errorf("object counts %v: want 2 identities and, per indicator, one SCO and one relationship", counts)
	}
	// The envelope, with the first objects: the bundle schema tries every
	// object type against every object, too slow for all of them, and
	// each was validated above.
	var envelope map[string]any
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatal(err)
	}
	envelope["objects"] = envelope["objects"].([]any)[:50]
	small, _ := json.Marshal(envelope)
	whole, err := jsonschema.UnmarshalJSON(bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch["bundle"].Validate(whole); err != nil {
		t.Fatalf("the bundle does not validate: %v", err)
	}
	if !strings.HasPrefix(envelope["id"].(string), "bundle--") || envelope["type"] != "bundle" {
		t.Errorf("bundle envelope %v %v", envelope["type"], envelope["id"])
	}
}

const header = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n"

const dump1 = header +
	"45.33.10.1,2026-04-01T00:00:00,45.33.10.0/24,spam,c1,uceptect_level2,,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,20\n" +
	"45.33.10.2,2026-04-01T00:00:00,45.33.10.0/24,spam,c1,uceptect_level2,,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,30\n" +
	"2a01:4f8::1,,2a01:4f8::/32,phishing,c2,openphish,,phishing,2026-04-11T00:00:00,2026-04-21T00:00:00,70\n"

// dump2 changes one indicator (a newer sighting with a new importance).
var dump2 = strings.Replace(dump1, "2026-04-20T00:00:00,30", "2026-04-25T00:00:00,60", 1)

type object struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Modified   string `json:"modified"`
	Value      string `json:"value"`
	Pattern    string `json:"pattern"`
	ValidFrom  string `json:"valid_from"`
	Confidence *int   `json:"confidence"`
}

func objects(t *testing.T, raw []byte) map[string]object {
	var b struct {
		Objects []object `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	m := map[string]object{}
	for _, o := range b.Objects {
		m[o.ID] = o
	}
	return m
}

// TestIDsAreStableAndModifiedMovesOnlyOnChange: two exports of the same
// store are identical; a run that changes nothing leaves every object as
// it was; a run that changes one indicator moves that indicator's modified
// only, and keeps every id.
func TestIDsAreStableAndModifiedMovesOnlyOnChange(t *testing.T) {
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 10, Seed: 1, Token: testToken})
	st := testutil.Store(t)
	t1 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ingest(t, st, srv, url, dump1, t1)
	first := bundle(t, st)
	if again := bundle(t, st); !bytes.Equal(first, again) {
		t.Fatal("two exports of the same store differ")
	}
	ingest(t, st, srv, url, dump1, t1.Add(24*time.Hour))
	if unchanged := bundle(t, st); !bytes.Equal(first, unchanged) {
		t.Fatalf("a run that changed nothing changed the bundle:\n%s\n---\n%s", first, unchanged)
	}
	t3 := t1.Add(48 * time.Hour)
	ingest(t, st, srv, url, dump2, t3)
	before, after := objects(t, first), objects(t, bundle(t, st))
	if len(before) != len(after) {
		t.Fatalf("%d objects before, %d after", len(before), len(after))
	}
	changed := stix.IndicatorID("45.33.10.2", 0)
	for id, b := range before {
		a, ok := after[id]
		if !ok {
			t.Fatalf("%s disappeared: ids are not deterministic", id)
		}
		switch {
		case id == changed:
			if a.Modified != t3.Format(stix.TimeFormat) || *a.Confidence != 60 {
				t.Errorf("the changed indicator: modified %s, confidence %d; want %s and 60", a.Modified, *a.Confidence, t3.Format(stix.TimeFormat))
			}
		case a.Modified != b.Modified:
			t.Errorf("%s %s: modified moved from %s to %s though it did not change", b.Type, id, b.Modified, a.Modified)
		}
	}
}

func TestForIndicatorMapping(t *testing.T) {
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	expires := created.AddDate(0, 3, 0)
	ind := &indicator.Indicator{
		Type: indicator.TypeIPv6, Addr: netip.MustParseAddr("2001:db8::7"), Status: indicator.StatusActive, Sources: []string{"Seclytics"},
		CreatedAt: created, UpdatedAt: created.Add(time.Hour), ExpiresAt: &expires,
		Attributes: []indicator.Attribute{
			{Name: indicator.AttrDetectedAt, Value: indicator.DateValue(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))},
			{Name: indicator.AttrDetectedCategories, Value: indicator.ListValue([]string{"botnet", "spam"})},
			{Name: indicator.AttrImportance, Value: indicator.NumberValue(69.5)},
		},
	}
	objs, err := stix.ForIndicator(ind)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[0].Type != "indicator" || objs[1].Type != "ipv6-addr" || objs[2].Type != "relationship" {
		t.Fatalf("objects %v", objs)
	}
	var sdo map[string]any
	if err := json.Unmarshal(objs[0].JSON, &sdo); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"pattern": "[ipv6-addr:value = '2001:db8::7']", "valid_from": "2026-04-02T00:00:00.000Z",
		"valid_until": "2026-08-01T00:00:00.000Z", "confidence": 70.0, "modified": "2026-05-01T01:00:00.000Z",
		"created_by_ref": stix.SeclyticsIdentityID,
	}
	for k, v := range want {
		if sdo[k] != v {
			t.Errorf("%s = %v, want %v", k, sdo[k], v)
		}
	}
	if labels, _ := json.Marshal(sdo["labels"]); string(labels) != `["botnet","spam"]` {
		t.Errorf("labels %s", labels)
	}
	if objs[0].ID != stix.IndicatorID("2001:db8::7", 0) || !objs[0].Modified.Equal(ind.UpdatedAt) || objs[0].SpecVersion != "2.1" {
		t.Errorf("index of the SDO: %+v", objs[0])
	}
	// The specification's algorithm (section 2.9) computed independently:
	// Python's uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"),
	// '{"value":"198.51.100.3"}'). (The specification's own example id
	// for this address is illustrative, not computed.)
	if id := stix.ObservableID("ipv4-addr", "198.51.100.3"); id != "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4" {
		t.Errorf("ObservableID = %s, not STIX's deterministic id", id)
	}
}

// TestARenewedIndicatorIsANewObject: STIX 2.1 forbids un-revoking an
// object, so an indicator brought back after it was revoked (generation
// 1) is a new indicator SDO and a new relationship to the same
// observable, while generation 0 keeps the id forewarn always gave the
// address (computed independently: Python's uuid5 of "indicator:" and the
// address in forewarn's namespace).
func TestARenewedIndicatorIsANewObject(t *testing.T) {
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ind := indicator.Indicator{Type: indicator.TypeIPv6, Addr: netip.MustParseAddr("2001:db8::7"), Status: indicator.StatusExpired,
		CreatedAt: created, UpdatedAt: created.Add(time.Hour)}
	revoked, err := stix.ForIndicator(&ind)
	if err != nil {
		t.Fatal(err)
	}
	ind.Status, ind.Generation, ind.UpdatedAt = indicator.StatusActive, 1, created.Add(2*time.Hour)
	renewed, err := stix.ForIndicator(&ind)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(objs []stix.Object) []string { return []string{objs[0].ID, objs[1].ID, objs[2].ID} }
	want := [][]string{
		{"indicator--fc8b9185-d626-5af5-be17-79da52b0f5b2", "ipv6-addr--" + stix.ObservableID("ipv6-addr", "2001:db8::7")[len("ipv6-addr--"):], "relationship--7c54b269-9cc9-5e9f-9baf-725461dca3f3"},
		{"indicator--3aec0157-868d-5019-b309-c1c505c7a614", stix.ObservableID("ipv6-addr", "2001:db8::7"), "relationship--e39a6ea6-0ddc-5f42-9634-e20341f2a2c8"},
	}
	if diff := cmp.Diff(want, [][]string{ids(revoked), ids(renewed)}); diff != "" {
		t.Errorf("ids of generations 0 and 1 (-want +got):\n%s", diff)
	}
	var rel struct {
		SourceRef string `json:"source_ref"`
	}
	if err := json.Unmarshal(renewed[2].JSON, &rel); err != nil || rel.SourceRef != renewed[0].ID {
		t.Errorf("the renewed relationship's source_ref %q, want the renewed indicator %s (%v)", rel.SourceRef, renewed[0].ID, err)
	}
	if bytes.Contains(renewed[0].JSON, []byte(`"revoked"`)) || !bytes.Contains(revoked[0].JSON, []byte(`"revoked":true`)) {
		t.Errorf("generation 0 revoked, 1 not: got\n%s\n%s", revoked[0].JSON, renewed[0].JSON)
	}
}

// TestForIndicatorRefusesWhatItCannotMap: an indicator without an address,
// or whose Predicted At is not a date, is an error naming it. Before values
// were typed, a Predicted At that did not parse (time.Parse's error was
// ignored) silently made valid_from the indicator's creation time.
func TestForIndicatorRefusesWhatItCannotMap(t *testing.T) {
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	bad := &indicator.Indicator{
		Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("198.51.100.7"), Status: indicator.StatusActive, CreatedAt: created, UpdatedAt: created,
		Attributes: []indicator.Attribute{{Name: indicator.AttrPredictedAt, Value: indicator.TextValue("yesterday")}},
	}
	_, err := stix.ForIndicator(bad)
	if !errors.Is(err, indicator.ErrWrongKind) || !strings.Contains(err.Error(), "198.51.100.7") || !strings.Contains(err.Error(), "Predicted At") {
		t.Errorf("a text Predicted At: %v, want ErrWrongKind naming the address and attribute", err)
	}
	if _, err := stix.ForIndicator(&indicator.Indicator{Status: indicator.StatusActive}); !errors.Is(err, indicator.ErrNoAddress) {
		t.Errorf("no address: %v, want ErrNoAddress", err)
	}
	// Absent is not wrong: valid_from falls back to the creation time.
	bad.Attributes = nil
	objs, err := stix.ForIndicator(bad)
	if err != nil || !strings.Contains(string(objs[0].JSON), `"valid_from":"2026-05-01T00:00:00.000Z"`) {
		t.Errorf("no Predicted At: %v %s", err, objs)
	}
}

// TestSupersededGenerationsAreRevokedAsOfTheRenewal: an indicator at
// generation 2 publishes the indicator ids of generations 0 and 1 revoked,
// modified when it was renewed, and pointing at the live id; their bytes
// do not move with the indicator's attributes or status, only with the
// next renewal. Generation 0 has none.
func TestSupersededGenerationsAreRevokedAsOfTheRenewal(t *testing.T) {
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	renewed := created.Add(48 * time.Hour)
	ind := indicator.Indicator{Type: indicator.TypeIPv4, Addr: netip.MustParseAddr("192.0.2.9"), Status: indicator.StatusActive,
		CreatedAt: created, UpdatedAt: renewed, Generation: 2, RenewedAt: renewed}
	first := stix.Superseded(&ind)
	if len(first) != 2 || first[0].ID != stix.IndicatorID("192.0.2.9", 0) || first[1].ID != stix.IndicatorID("192.0.2.9", 1) {
		t.Fatalf("superseded of generation 2: %v; want the indicators of generations 0 and 1", first)
	}
	sch := schemas(t)["indicator"]
	for _, o := range first {
		var sdo map[string]any
		if err := json.Unmarshal(o.JSON, &sdo); err != nil {
			t.Fatal(err)
		}
		if v, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.JSON)); err != nil || sch.Validate(v) != nil {
			t.Errorf("%s does not validate against OASIS's indicator schema: %v %v", o.JSON, err, sch.Validate(v))
		}
		if sdo["revoked"] != true || sdo["modified"] != "2026-05-03T00:00:00.000Z" || sdo["created"] != "2026-05-01T00:00:00.000Z" ||
			sdo["x_forewarn_superseded_by_ref"] != stix.IndicatorID("192.0.2.9", 2) || !o.Modified.Equal(renewed) {
			t.Errorf("%s: %s; want revoked, modified at the renewal, superseded by generation 2", o.ID, o.JSON)
		}
	}
	ind.Status, ind.UpdatedAt = indicator.StatusReview, renewed.Add(time.Hour)
	ind.Attributes = append(ind.Attributes, indicator.Attribute{Name: indicator.AttrImportance, Value: indicator.NumberValue(80)})
	if again := stix.Superseded(&ind); !bytes.Equal(again[0].JSON, first[0].JSON) || !bytes.Equal(again[1].JSON, first[1].JSON) {
		t.Errorf("the superseded objects moved with the indicator:\n%s\n%s", first[0].JSON, again[0].JSON)
	}
	ind.Generation = 0
	if got := stix.Superseded(&ind); got != nil {
		t.Errorf("generation 0 superseded %v", got)
	}
	ind.Generation = stix.MaxSuperseded + 5
	if got := stix.Superseded(&ind); len(got) != stix.MaxSuperseded || got[len(got)-1].ID != stix.IndicatorID("192.0.2.9", stix.MaxSuperseded+4) {
		t.Errorf("generation %d: %d superseded; want the %d latest", ind.Generation, len(got), stix.MaxSuperseded)
	}
}
