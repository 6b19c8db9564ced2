package feeddef

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaInDocs keeps docs/feed-definition.schema.json, the contract
// users read, byte-identical to the schema the code validates with.
func TestSchemaInDocs(t *testing.T) {
	docs, err := os.ReadFile("../../docs/feed-definition.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, SchemaJSON) {
		t.Fatal("docs/feed-definition.schema.json differs from internal/feeddef/schema.json: copy the latter over the former")
	}
}

const minimal = `id: my-list
title: My list
source: My list
mode: snapshot
fetch:
  base_url: https://lists.example
  path: /list.txt
format:
  kind: lines
indicator:
  field: value
`

func TestParseMinimal(t *testing.T) {
	d, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "my-list" || d.Format.Fields[0] != "value" || d.Fetch.Auth.Kind != AuthNone || d.Format.MaxLine != DefaultMaxLine {
		t.Fatalf("defaults not applied: %+v", d)
	}
	u, err := d.URL("", nil)
	if err != nil || u != "https://lists.example/list.txt" {
		t.Fatalf("URL = %q, %v", u, err)
	}
	u, err = d.URL("http://127.0.0.1:8080/mirror/", nil)
	if err != nil || u != "http://127.0.0.1:8080/mirror/list.txt" {
		t.Fatalf("URL with a base_url = %q, %v", u, err)
	}
	if _, err := d.URL("http://user:pw@127.0.0.1/", nil); err == nil {
		t.Fatal("a base_url with user info was accepted")
	}
}

// TestParseErrors checks that every problem of a definition is reported
// at once, each at its line and column.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"yaml syntax", "id: [unclosed\n  x: y\n", []string{"1:5: sequence end token ']' not found"}},
		{"empty", "", []string{"1:1: the file must hold exactly one YAML document, a mapping"}},
		{"duplicate key", minimal + "id: again\n", []string{`12:1: mapping key "id" already defined at [1:1]`}},
		{"alias", minimal + "description: &d x\nterms: *d\n", []string{
			"12:14: anchors and aliases are not supported in a feed definition: write the value out",
			"13:8: anchors and aliases are not supported in a feed definition: write the value out"}},
		{"schema", `id: Bad_ID
title: x
source: x
mode: snapshott
colour: red
fetch:
  base_url: ftp://x
  path: /a
  auth: {kind: query}
format:
  kind: lines
indicator:
  field: value
attributes:
  - name: B
    type: constant
parameters:
  - name: t
    type: number
    default: "x"
    help: h
`, []string{
			"1:5: /id: 'Bad_ID' does not match pattern '^[a-z0-9-]+$'",
			"4:7: /mode: value must be one of 'snapshot', 'cumulative'",
			`5:1: unknown key "colour" in the definition: check its spelling in docs/feeds.md`,
			"7:13: /fetch/base_url: 'ftp://x' does not match pattern '^https?://[^/?#@]+(/[^?#]*)?$'",
			`9:10: /fetch/auth is missing the required key "param"`,
			`15:5: /attributes/0 is missing the required key "value"`,
			"20:14: /parameters/0/default: got string, want number",
		}},
		{"schema and semantics", `id: ok
title: x
source: x
mode: sometimes
fetch:
  base_url: https://x.example
  path: /a/{nope}
format:
  kind: lines
  fields: [a]
indicator:
  field: b
attributes:
  - {name: A, type: colour, field: a, layouts: [x]}
`, []string{
			"4:7: /mode: value must be one of 'snapshot', 'cumulative'",
			`7:9: parameter "nope" is not defined under parameters`,
			`12:10: field "b" is not one of the format's fields "a"`,
			"14:21: /attributes/0/type: value must be one of 'text', 'number', 'date', 'list', 'cidr', 'constant'",
			`14:49: layout "x": holds no date elements: write it with Go's reference time, 2006-01-02 15:04:05`,
		}},
		{"semantics", `id: ok
title: x
source: x
mode: snapshot
schedule: 10s
age_out: 0h
fetch:
  base_url: https://x.example
  path: /a/{nope}
format:
  kind: lines
  header: row
  fields: [a, b]
indicator:
  field: c
attributes:
  - name: A
    type: date
    field: a
    layouts: ["garbage"]
    separators: [","]
  - name: N
    type: number
    field: b
    min: 5
    max: 1
parameters:
  - name: t
    type: number
    default: 5
    min: 10
    help: h
filters:
  - type: at_least
    attribute: A
    parameter: t
  - type: any_of
    attribute: N
    parameter: missing
derived:
  - name: D
    from: N
    bands: [{value: x}, {at_least: 3, value: y}]
  - name: E
    from: N
    bands: [{at_least: 3, value: x}, {at_least: 4, value: y}]
`, []string{
			`5:11: schedule "10s": an interval must be at least 1m0s, not 10s`,
			`6:10: age_out "0h" is not a positive duration such as 2160h, or never`,
			`9:9: parameter "nope" is not defined under parameters`,
			`12:3: format key "header" does not apply to kind lines`,
			`15:10: field "c" is not one of the format's fields "a", "b"`,
			`20:15: layout "garbage": holds no date elements: write it with Go's reference time, 2006-01-02 15:04:05`,
			`21:5: attribute key "separators" does not apply to type date`,
			`26:10: max 1 is below min 5`,
			`30:14: default 5 is outside min..max`,
			`35:16: attribute "A" is a date, this needs number`,
			`38:16: attribute "N" is a number, this needs list or text or constant`,
			`39:16: parameter "missing" is not defined under parameters`,
			`43:14: only the last band may leave out at_least (it takes every lower number)`,
			`46:49: bands must be in decreasing order of at_least: 4 follows 3`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %T is not Problems", err)
			}
			if diff := cmp.Diff(tc.want, strings.Split(ps.Error(), "\n")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(bytes.Repeat([]byte("#"), MaxDefinitionSize+1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettings(t *testing.T) {
	d := Builtin("seclytics")
	s, err := d.Settings(map[string]string{"dataset": "B", "threshold": "55.5", "normalize": "yes", "categories": "Botnet,\nphishing", "context": "all"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Text("dataset") != "b" || s.Number("threshold") != 55.5 || !s.Bool("normalize") ||
		!cmp.Equal(s.List("categories"), []string{"Botnet", "phishing"}) || len(s.List("context")) != len(d.Attributes) {
		t.Fatalf("settings = %+v", s)
	}
	u, err := d.URL("", map[string]string{"dataset": "B"})
	if err != nil || u != "https://api.seclytics.com/bulk/seen-predictions-dump-b.json.gz" {
		t.Fatalf("URL = %q, %v", u, err)
	}
	for _, bad := range []map[string]string{
		{"threshold": "101"}, {"threshold": "x"}, {"dataset": "C"}, {"normalize": "maybe"},
		{"context": "Importance,Colour"}, {"colour": "red"},
	} {
		if _, err := d.Settings(bad); err == nil {
			t.Errorf("settings %v were accepted", bad)
		}
	}
}
