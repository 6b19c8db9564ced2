package feeddef

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocsExamples loads every YAML example of docs/feeds.md: each is a
// valid definition, the per-kind examples are the built-in files and the
// custom one is testdata/custom/acme-threats.yaml.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/feeds.md")
	if err != nil {
		t.Fatal(err)
	}
	custom, err := os.ReadFile("testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlock.FindAllSubmatch(doc, -1)
	var ids []string
	for _, b := range blocks {
		d, err := Parse(b[1])
		if err != nil {
			t.Errorf("an example in docs/feeds.md is invalid:\n%v\n%s", err, b[1])
			continue
		}
		ids = append(ids, d.ID)
		want := BuiltinSource(d.ID)
		if d.ID == "acme-threats" {
			want = custom
		}
		if !bytes.Equal(b[1], want) {
			t.Errorf("the %s example in docs/feeds.md differs from its file: copy the file into the doc", d.ID)
		}
	}
	wantIDs := []string{"spamhaus-drop", "feodo", "spamhaus-drop-json", "tor-exits", "seclytics", "acme-threats"}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("examples (-want +got):\n%s", diff)
	}
}

// TestCustomDefinition runs the README's "Adding a feed" definition on a
// sample export.
func TestCustomDefinition(t *testing.T) {
	src, err := os.ReadFile("testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.URL("", map[string]string{"list": "Scanners"})
	if err != nil || u != "https://threats.acme.example/v2/export/scanners.csv.gz" {
		t.Fatalf("URL = %q, %v", u, err)
	}
	if a := d.Fetch.Auth; a.Kind != AuthHeader || a.Header != "Authorization" || a.Prefix != "Bearer " || !d.Fetch.Conditional {
		t.Fatalf("fetch = %+v", d.Fetch)
	}
	csv, err := os.ReadFile("testdata/custom/acme-threats.csv")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(csv)
	w.Close()
	body, err := d.Decompress(&gz, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	text, err := readBody(d, body)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"192.0.2.10/32 line 3 first 2026-11-01T08:00:00Z last 2026-11-30T23:00:00Z [Score=91 Categories=botnet, scanner Network=192.0.2.0/24 Risk=High]",
		"198.51.100.0/24 line 4 first 2026-09-30T22:00:00Z last 2026-11-29T12:00:00Z [Score=64 Categories=scanner Risk=Medium]",
		// 203.0.113.5 scores 12, below min_score.
		"2001:db8::7/128 line 6 [Score=77.5 Categories=botnet Network=2001:db8::/32 Risk=Medium]",
		`invalid: line 7: "not-an-address" is not an IP address`,
		"filtered: [1 0]",
	}
	if diff := cmp.Diff(want, text); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func readBody(d *Definition, body io.Reader) ([]string, error) {
	r, err := d.NewReader(body, Params{Now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, entryString(e))
	}
	for _, p := range r.Problems() {
		out = append(out, "invalid: "+p.String())
	}
	return append(out, fmt.Sprint("filtered: ", r.Stats().Filtered)), nil
}

// TestReadmeCustomDefinition: the README's "Adding a feed" shows the
// custom definition the tests load, byte for byte.
func TestReadmeCustomDefinition(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	custom, err := os.ReadFile("testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range yamlBlock.FindAllSubmatch(readme, -1) {
		if bytes.Equal(b[1], custom) {
			return
		}
	}
	t.Error("README.md's Adding a feed does not show testdata/custom/acme-threats.yaml: copy the file into it")
}
