package feeddef

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
)

// def parses a definition made of the common head and the given body.
func def(t *testing.T, body string) *Definition {
	t.Helper()
	d, err := Parse([]byte("id: t\ntitle: t\nsource: t\nmode: snapshot\nfetch:\n  base_url: https://x.example\n  path: /x\n" + body))
	if err != nil {
		t.Fatalf("definition:\n%v", err)
	}
	return d
}

// read returns every entry (as entryString writes it) and every invalid
// line of body.
func read(t *testing.T, d *Definition, body string, p Params) (entries, invalid []string) {
	t.Helper()
	r, err := d.NewReader(strings.NewReader(body), p)
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s := entryString(e)
		for _, w := range e.Warnings {
			s += " warning: " + w
		}
		entries = append(entries, s)
	}
	for _, p := range r.Problems() {
		invalid = append(invalid, p.String())
	}
	return entries, invalid
}

func check(t *testing.T, gotE, gotI, wantE, wantI []string) {
	t.Helper()
	if diff := cmp.Diff(wantE, gotE); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantI, gotI); diff != "" {
		t.Errorf("invalid lines (-want +got):\n%s", diff)
	}
}

func TestCSV(t *testing.T) {
	d := def(t, `format:
  kind: csv
  comments: ["#"]
indicator:
  field: ip
  first_seen: {field: seen, layouts: ["2006-01-02"]}
attributes:
  - {name: Note, type: text, field: note}
  - {name: Tags, type: list, field: tags, separators: [";"], lower: true}
  - {name: Score, type: number, field: score}
`)
	body := "\xef\xbb\xbf# banner\r\n" +
		"IP,Seen,Note,Tags,Score\r\n" +
		"192.0.2.1,2021-02-03,\"said \"\"hi\"\", twice\",A;b;a,5.5\r\n" +
		"\r\n" +
		"192.0.2.2,,\"two\nlines\",,\r\n" +
		"2001:db8::1,bad-date,x\"y,,\r\n" +
		"::ffff:192.0.2.3,2021-02-03,,,1e3\r\n" +
		"not-an-ip,,,,\r\n" +
		"192.0.2.4,2021-02-03,short" // no final newline, fewer fields
	e, inv := read(t, d, body, Params{})
	check(t, e, inv, []string{
		`192.0.2.1/32 line 3 first 2021-02-03T00:00:00Z [Note=said "hi", twice Tags=a, b Score=5.5]`,
		// Both stores keep text alike: the line break goes, with a warning.
		"192.0.2.2/32 line 5 [Note=twolines] warning: text held invalid UTF-8 or control characters: invalid bytes replaced with U+FFFD, control characters removed",
		"192.0.2.3/32 line 8 first 2021-02-03T00:00:00Z [] warning: Score (field score): \"1e3\" is not a number; attribute dropped",
		"192.0.2.4/32 line 10 first 2021-02-03T00:00:00Z [Note=short]",
	}, []string{
		"line 7: a quote inside an unquoted field: quote the whole field and double the quotes inside it",
		`line 9: "not-an-ip" is not an IP address`,
	})
}

func TestCSVHeaderNoneTabsStrict(t *testing.T) {
	d := def(t, `format:
  kind: csv
  header: none
  delimiter: "\t"
  quote: false
  strict_fields: true
  columns: [ip, name]
indicator:
  field: ip
attributes:
  - {name: Name, type: text, field: name}
`)
	e, inv := read(t, d, "192.0.2.1\t\"quoted\"\n192.0.2.2\ta\tb\n", Params{})
	check(t, e, inv, []string{`192.0.2.1/32 line 1 [Name="quoted"]`}, []string{"line 2: has 3 fields, the header has 2"})
}

func TestCSVEmptyAndHeaderless(t *testing.T) {
	d := Builtin("feodo")
	r, _ := d.NewReader(strings.NewReader(""), Params{})
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("empty body: %v, want io.EOF", err)
	}
	r, _ = d.NewReader(strings.NewReader("# banner\r\n# END 0 entries\r\n"), Params{})
	if _, err := r.Next(); !errors.Is(err, ErrFormat) {
		t.Fatalf("comments only: %v, want ErrFormat", err)
	}
}

func TestCSVHeaderWithoutMappedColumn(t *testing.T) {
	d := def(t, "format:\n  kind: csv\nindicator:\n  field: ip\n")
	r, err := d.NewReader(strings.NewReader("addr,port\n192.0.2.1,80\n"), Params{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `the header (line 1) has no column "ip"; it has "addr", "port"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLines(t *testing.T) {
	d := def(t, `format:
  kind: lines
  comments: ["#", ";"]
  inline_comment: "#"
  fields: [net, id, rest]
indicator:
  field: net
  max_prefix: {ipv4: 16, ipv6: 32}
attributes:
  - {name: ID, type: text, field: id}
  - {name: Rest, type: text, field: rest}
  - {name: Kind, type: constant, value: botnet}
`)
	body := "; header\n" +
		"  # indented comment\n" +
		"10.1.0.0/16 SBL1 the rest  of it # inline\n" +
		"10.2.3.4/16\n" +
		"10.0.0.0/8\n" +
		"2001:db8::/32\tSBL2\n" +
		"2001:db8::1%eth0\n" +
		"203.0.113.7\n"
	e, inv := read(t, d, body, Params{})
	check(t, e, inv, []string{
		"10.1.0.0/16 line 3 [ID=SBL1 Rest=the rest  of it Kind=botnet]",
		"2001:db8::/32 line 6 [ID=SBL2 Kind=botnet]",
		"203.0.113.7/32 line 8 [Kind=botnet]",
	}, []string{
		"line 4: 10.2.3.4/16 has host bits set: the network is 10.2.0.0/16",
		"line 5: 10.0.0.0/8 is wider than /16, the widest prefix this feed accepts (indicator.max_prefix)",
		`line 7: "2001:db8::1%eth0" is not an IP address`,
	})
}

func TestLinesSeparatorAndPrefixLength(t *testing.T) {
	d := def(t, `format:
  kind: lines
  separator: " ; "
  fields: [start, len]
indicator:
  field: start
  prefix_length_field: len
`)
	e, inv := read(t, d, "192.0.2.0 ; 24\n192.0.2.0 ; x\n192.0.2.0/24 ; 24\n192.0.2.0\n", Params{})
	check(t, e, inv, []string{"192.0.2.0/24 line 1 []"}, []string{
		`line 2: prefix length "x" of 192.0.2.0 is not a number`,
		`line 3: "192.0.2.0/24" already has a prefix length and the definition names a prefix_length_field`,
		"line 4: no prefix length: field len is empty or missing",
	})
}

func TestNDJSON(t *testing.T) {
	d := def(t, `format:
  kind: ndjson
  skip_if: {field: meta.type, equals: trailer}
indicator:
  field: net.cidr
attributes:
  - {name: Tags, type: list, field: tags, separators: [","]}
  - {name: Score, type: number, field: score}
  - {name: Seen, type: date, field: seen, layouts: [unix]}
`)
	body := `{"net":{"cidr":"198.51.100.0/24"},"tags":["a","b, c",null,"a"],"score":7,"seen":1600000000}` + "\n" +
		`[1,2]` + "\n" +
		`{"net":` + "\n" +
		`{"net":{"cidr":null}}` + "\n" +
		`{"meta":{"type":"trailer"},"records":1}`
	e, inv := read(t, d, body, Params{})
	check(t, e, inv, []string{"198.51.100.0/24 line 1 [Tags=a, b, c, null Score=7 Seen=2020-09-13T12:26:40Z]"}, []string{
		"line 2: not a JSON object",
		`line 3: not a JSON value: cannot parse JSON: cannot parse object: cannot parse object value: cannot parse empty string; unparsed tail: ""`,
		"line 4: no indicator: field net.cidr is empty or missing",
	})
}

func TestRecords(t *testing.T) {
	d := Builtin("tor-exits")
	body := "ExitAddress 192.0.2.9 2024-03-12 08:10:51\n" +
		"ExitNode AAA\nPublished 2024-03-11 13:07:19\nLastStatus 2024-03-12 08:00:00\n" +
		"ExitAddress 192.0.2.1 2024-03-12 08:10:51\nExitAddress 2001:db8::1 2024-03-12 09:00:00\n" +
		"ExitNode BBB\nExitAddress 192.0.2.2 not-a-date\n"
	e, inv := read(t, d, body, Params{})
	check(t, e, inv, []string{
		"192.0.2.1/32 line 5 last 2024-03-12T08:10:51Z [Relay=AAA Published=2024-03-11T13:07:19Z Last Status=2024-03-12T08:00:00Z]",
		"2001:db8::1/128 line 6 last 2024-03-12T09:00:00Z [Relay=AAA Published=2024-03-11T13:07:19Z Last Status=2024-03-12T08:00:00Z]",
		// A new record forgets the last one's Published and LastStatus.
		`192.0.2.2/32 line 8 [Relay=BBB] warning: last_seen "not-a-date" is not a date in the layouts 2006-01-02 15:04:05; dropped`,
	}, []string{"line 1: ExitAddress comes before any ExitNode line"})
}

func TestCIDRAttributeAndDates(t *testing.T) {
	d := def(t, `format:
  kind: lines
  fields: [ip, net, when]
indicator:
  field: ip
attributes:
  - {name: Net, type: cidr, field: net, contains_indicator: true, max_prefix: {ipv4: 16}}
  - {name: When, type: date, field: when, required: true}
`)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e, inv := read(t, d, "192.0.2.1 192.0.2.77/24 2025-01-01T10:00:00+02:00\n"+
		"192.0.2.1 198.51.100.0/24 2025-01-01\n"+
		"192.0.2.1 192.0.0.0/8 2025-01-01\n"+
		"192.0.2.1 ::ffff:192.0.2.0/120 2025-01-01\n"+
		"192.0.2.1 - 2028-01-01\n"+
		"192.0.2.1 - 1969-12-31\n", Params{Now: now})
	check(t, e, inv, []string{
		"192.0.2.1/32 line 1 [Net=192.0.2.0/24 When=2025-01-01T08:00:00Z]",
		`192.0.2.1/32 line 2 [When=2025-01-01T00:00:00Z] warning: Net (field net): "198.51.100.0/24" does not contain the indicator 192.0.2.1/32; attribute dropped`,
		`192.0.2.1/32 line 3 [When=2025-01-01T00:00:00Z] warning: Net (field net): "192.0.0.0/8" is wider than /16 (max_prefix); attribute dropped`,
		"192.0.2.1/32 line 4 [Net=192.0.2.0/24 When=2025-01-01T00:00:00Z]",
	}, []string{
		`line 5: When (field when): "2028-01-01" is outside 1970-01-01 to a year after the run`,
		`line 6: When (field when): "1969-12-31" is outside 1970-01-01 to a year after the run`,
	})
}

func TestTextIsCleaned(t *testing.T) {
	d := def(t, "format:\n  kind: lines\n  fields: [ip, note]\nindicator:\n  field: ip\nattributes:\n  - {name: Note, type: text, field: note}\n")
	e, _ := read(t, d, "192.0.2.1 a\x00b\xffc\n", Params{})
	check(t, e, nil, []string{"192.0.2.1/32 line 1 [Note=ab\uFFFDc] warning: text held invalid UTF-8 or control characters: invalid bytes replaced with U+FFFD, control characters removed"}, nil)
}

func TestInvalidLinesAreCapped(t *testing.T) {
	d := def(t, "format:\n  kind: lines\nindicator:\n  field: value\n")
	body := strings.Repeat("junk\n", MaxProblems+50) + "192.0.2.1\n"
	r, err := d.NewReader(strings.NewReader(body), Params{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil || e.Prefix.String() != "192.0.2.1/32" || e.Line != MaxProblems+51 {
		t.Fatalf("Next = %v, %v: invalid lines must not stop the parse", e, err)
	}
	if st := r.Stats(); st.Invalid != MaxProblems+50 || len(r.Problems()) != MaxProblems {
		t.Fatalf("counted %d, kept %d; want %d and %d", st.Invalid, len(r.Problems()), MaxProblems+50, MaxProblems)
	}
}

func TestLineTooLong(t *testing.T) {
	d := def(t, "format:\n  kind: lines\n  max_line: 1024\nindicator:\n  field: value\n")
	for name, body := range map[string]string{
		"in the buffer": "192.0.2.1\n" + strings.Repeat("x", 1025) + "\n",
		"past it":       "192.0.2.1\n" + strings.Repeat("x", 100_000) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := d.NewReader(strings.NewReader(body), Params{})
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			_, err := r.Next()
			if !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "line 2 is longer than max_line (1024 bytes)") {
				t.Fatalf("err = %v", err)
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("the error is not sticky: %v", again)
			}
		})
	}
	// A quoted CSV field cannot swallow the rest of the body either.
	d = def(t, "format:\n  kind: csv\n  max_line: 1024\nindicator:\n  field: ip\n")
	r, _ := d.NewReader(strings.NewReader("ip\n\"192.0.2.1\n"+strings.Repeat("x\n", 1000)), Params{})
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecompress(t *testing.T) {
	d := def(t, "format:\n  kind: lines\nindicator:\n  field: value\n")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	fmt.Fprint(w, strings.Repeat("192.0.2.1\n", 1000))
	w.Close()
	for _, tc := range []struct {
		name string
		body []byte
		max  int64
		want error
	}{
		{"gzip", gz.Bytes(), 10_000, nil},
		{"plain", []byte("192.0.2.1\n"), 10, nil},
		{"gzip bomb", gz.Bytes(), 9_999, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := d.Decompress(bytes.NewReader(tc.body), tc.max)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			r, _ := d.NewReader(body, Params{})
			for err == nil {
				_, err = r.Next()
			}
			if tc.want == nil && !errors.Is(err, io.EOF) || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFilterFunctions(t *testing.T) {
	num := indicator.NumberValue
	if !AtLeast(num(70), 70) || AtLeast(num(69.9), 70) || AtLeast(indicator.Value{}, 1) || !AtLeast(indicator.Value{}, 0) {
		t.Error("AtLeast")
	}
	cats := indicator.ListValue([]string{"spam", "Botnet"})
	if !AnyOf(cats, []string{" botnet "}) || AnyOf(cats, []string{"phishing"}) || !AnyOf(indicator.Value{}, nil) ||
		!AnyOf(indicator.TextValue("x"), []string{"X"}) {
		t.Error("AnyOf")
	}
	day := func(d int) indicator.Value { return indicator.DateValue(time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC)) }
	since, until := day(2).Time, day(4).Time
	for _, tc := range []struct {
		vals []indicator.Value
		want bool
	}{
		{[]indicator.Value{day(2)}, true},
		{[]indicator.Value{day(4)}, false},         // until is excluded
		{[]indicator.Value{{}, day(3)}, true},      // falls back to the next date
		{[]indicator.Value{day(1), day(3)}, false}, // the first present date decides
		{[]indicator.Value{{}, {}}, false},         // no date
		{[]indicator.Value{day(9)}, false},
	} {
		if got := InWindow(tc.vals, since, until); got != tc.want {
			t.Errorf("InWindow(%v) = %v", tc.vals, got)
		}
	}
	if !InWindow([]indicator.Value{day(9)}, time.Time{}, time.Time{}) {
		t.Error("an open window dropped a date")
	}
	f := func(v float64) *float64 { return &v }
	bands := []Band{{f(70), "High"}, {f(40), "Medium"}, {nil, "Low"}}
	for v, want := range map[float64]string{100: "High", 70: "High", 69.5: "Medium", 40: "Medium", 39.9: "Low", 0: "Low"} {
		if got := BandOf(bands, v); got != want || got != indicator.NormalizeImportance(v) {
			t.Errorf("BandOf(%v) = %q, want %q", v, got, want)
		}
	}
	if BandOf(bands[:1], 10) != "" {
		t.Error("a number below every band got one")
	}
}

func TestIPsumParameter(t *testing.T) {
	d := Builtin("ipsum")
	body := "# IP\tnumber of (black)lists\n192.0.2.1\t9\n192.0.2.2\t2\n192.0.2.3\t3\n"
	e, inv := read(t, d, body, Params{Settings: map[string]string{"min_lists": "3"}})
	check(t, e, inv, []string{"192.0.2.1/32 line 2 [Lists=9]", "192.0.2.3/32 line 4 [Lists=3]"}, nil)
}

// TestNoAllocationPerLine reads 10,000 lines of a line list and of a CSV
// with a repeated text attribute: the allocations do not grow with the
// lines (buffers are reused, repeated text is shared).
func TestNoAllocationPerLine(t *testing.T) {
	var list, csv strings.Builder
	csv.WriteString("first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n")
	for i := range 10_000 {
		fmt.Fprintf(&list, "10.%d.%d.%d\n", i>>16, i>>8&255, i&255)
		fmt.Fprintf(&csv, "2021-01-17 07:44:46,10.%d.%d.%d,443,online,2021-10-25,QakBot\n", i>>16, i>>8&255, i&255)
	}
	for _, tc := range []struct {
		id, body string
	}{{"blocklist-de", list.String()}, {"feodo", csv.String()}} {
		d := Builtin(tc.id)
		allocs := testing.AllocsPerRun(3, func() {
			r, _ := d.NewReader(strings.NewReader(tc.body), Params{})
			n := 0
			for {
				if _, err := r.Next(); err != nil {
					break
				}
				n++
			}
			if n != 10_000 {
				t.Fatalf("%s: %d entries", tc.id, n)
			}
		})
		if allocs > 200 {
			t.Errorf("%s: %v allocations for 10,000 lines", tc.id, allocs)
		}
	}
}

// TestRepeatedFieldsMappedAlike checks that a line repeating the fields of
// the line before gets the same attributes and warnings, though the
// Reader does not map a repeated field again: a cleaned text warns on
// every line that has it, also when an earlier attribute of the line
// already warned, and a netblock is checked against each line's address.
func TestRepeatedFieldsMappedAlike(t *testing.T) {
	d := def(t, `format:
  kind: csv
  header: row
indicator:
  field: ip
attributes:
  - {name: Seen, type: date, field: seen}
  - {name: A, type: text, field: a}
  - {name: B, type: text, field: b}
  - {name: Tags, type: list, field: tags, separators: [";"], lower: true}
  - {name: N, type: number, field: n, min: 0, max: 10}
  - {name: Net, type: cidr, field: net, contains_indicator: true}
`)
	warn := " warning: text held invalid UTF-8 or control characters: invalid bytes replaced with U+FFFD, control characters removed"
	body := "ip,seen,a,b,tags,n,net\n" +
		"192.0.2.1,2025-01-02,x\x01,y\x01,P;q;p,5,192.0.2.0/24\n" +
		"192.0.2.2,2025-01-02,ok,y\x01,P;q;p,5,192.0.2.0/24\n" +
		"192.0.2.3,2025-01-02,x\x01,y\x01,P;q;p,11,192.0.2.0/24\n" +
		"198.51.100.1,bad,ok,ok,P;q;p,5,192.0.2.0/24\n" +
		"198.51.100.2,bad,ok,ok,P;q;p,5,192.0.2.0/24\n"
	e, _ := read(t, d, body, Params{})
	check(t, e, nil, []string{
		"192.0.2.1/32 line 2 [Seen=2025-01-02T00:00:00Z A=x B=y Tags=p, q N=5 Net=192.0.2.0/24]" + warn,
		"192.0.2.2/32 line 3 [Seen=2025-01-02T00:00:00Z A=ok B=y Tags=p, q N=5 Net=192.0.2.0/24]" + warn,
		"192.0.2.3/32 line 4 [Seen=2025-01-02T00:00:00Z A=x B=y Tags=p, q Net=192.0.2.0/24]" + warn + ` warning: N (field n): "11" is outside 0 to 10; attribute dropped`,
		`198.51.100.1/32 line 5 [A=ok B=ok Tags=p, q N=5] warning: Seen (field seen): "bad" is not an ISO 8601 date (2006-01-02, optionally with a time); attribute dropped warning: Net (field net): "192.0.2.0/24" does not contain the indicator 198.51.100.1/32; attribute dropped`,
		`198.51.100.2/32 line 6 [A=ok B=ok Tags=p, q N=5] warning: Seen (field seen): "bad" is not an ISO 8601 date (2006-01-02, optionally with a time); attribute dropped warning: Net (field net): "192.0.2.0/24" does not contain the indicator 198.51.100.2/32; attribute dropped`,
	}, nil)
}

// TestMapFieldsReadsAsNextDoes maps records split elsewhere, as the
// Seclytics runner does, and checks them against the same rows read from a
// CSV body: the same entries, warnings, invalid lines and filter counts. A
// unit separator (0x1f) in a CSV field is a control character removed by
// the cleaning; only a JSON array's items are split on it.
func TestMapFieldsReadsAsNextDoes(t *testing.T) {
	d := def(t, `format:
  kind: csv
indicator:
  field: ip
  last_seen:
    field: seen
attributes:
  - name: Seen
    type: date
    field: seen
  - name: Tags
    type: list
    field: tags
    separators: [";"]
  - name: Score
    type: number
    field: score
    required: true
parameters:
  - name: min
    label: Min
    type: number
    default: 50
    help: x
filters:
  - type: at_least
    attribute: Score
    parameter: min
`)
	rows := [][]string{
		{"198.51.100.1", "2026-01-02", "a;b", "90"},
		{"198.51.100.2", "yesterday", "a\x1fb;\x00", "90"}, // one warning, for Seen
		{"198.51.100.3", "2026-01-02", "a", "10"},          // below min
		{"999.1.2.3", "2026-01-02", "a", "90"},             // invalid
		{"198.51.100.4", "", "", "high"},                   // invalid
	}
	body := "ip,seen,tags,score\n"
	for _, r := range rows {
		body += strings.Join(r, ",") + "\n"
	}
	wantE, wantI := read(t, d, body, Params{})

	m, err := d.NewMapper(Params{})
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{"ip": 0, "seen": 1, "tags": 2, "score": 3}
	var gotE, gotI []string
	for i, r := range rows {
		vals := make([][]byte, len(m.Fields()))
		for k, name := range m.Fields() {
			vals[k] = []byte(r[col[name]])
		}
		e, why, filtered := m.MapFields(int64(i+2), vals, nil)
		switch {
		case why != "":
			gotI = append(gotI, LineProblem{int64(i + 2), why}.String())
		case filtered < 0:
			s := entryString(e)
			for _, w := range e.Warnings {
				s += " warning: " + w
			}
			gotE = append(gotE, s)
		}
	}
	check(t, gotE, gotI, wantE, wantI)
	if len(wantE) != 2 || len(wantI) != 2 || m.Stats().Filtered[0] != 1 {
		t.Fatalf("entries %q, invalid %q, filtered %v: want 2, 2 and 1", wantE, wantI, m.Stats().Filtered)
	}
	if !strings.Contains(wantE[1], "Tags=ab ") || strings.Count(wantE[1], "warning:") != 2 {
		t.Errorf("row 2 is %q: want Tags=ab, a warning for the date and one for the cleaned text", wantE[1])
	}

	// The same field as a JSON array's items: split on the separator.
	vals, arrays := make([][]byte, len(m.Fields())), make([]bool, len(m.Fields()))
	for k, name := range m.Fields() {
		vals[k] = []byte(map[string]string{"ip": "198.51.100.9", "tags": "a\x1fb", "score": "90"}[name])
		arrays[k] = name == "tags"
	}
	e, why, _ := m.MapFields(9, vals, arrays)
	if why != "" || e.Attr("Tags").String() != indicator.ListValue([]string{"a", "b"}).String() {
		t.Errorf("array a,b: %v %q", e, why)
	}
}
