package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"forewarn/internal/export"
)

// ecsField is one entry of the vendored ECS field reference.
type ecsField struct {
	typ     string
	array   bool
	allowed []string // allowed_values names, or expected_values
}

// loadECSReference reads testdata/ecs/ecs_flat_excerpt.yml, a verbatim
// subset of ECS's ecs_flat.yml (see its SOURCE.md). The subset uses only
// the few YAML shapes parsed here.
func loadECSReference(t *testing.T) map[string]*ecsField {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ecs", "ecs_flat_excerpt.yml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fields := map[string]*ecsField{}
	var cur *ecsField
	list := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !strings.HasPrefix(line, " "):
			cur = &ecsField{}
			fields[strings.Trim(strings.TrimSuffix(line, ":"), "'")] = cur
		case strings.HasPrefix(line, "  - "):
			v := strings.TrimPrefix(line, "  - ")
			switch list {
			case "allowed_values":
				cur.allowed = append(cur.allowed, strings.TrimPrefix(v, "name: "))
			case "expected_values":
				cur.allowed = append(cur.allowed, v)
			case "normalize":
				cur.array = cur.array || v == "array"
			}
		default:
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			list = k
			if k == "type" {
				cur.typ = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fields
}

// flatten turns a JSON document into ECS's dotted field names.
func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, x, out)
		}
		return
	}
	out[prefix] = v
}

// TestECSFieldsAreInTheReference checks every field of every ecs document
// against ECS's own field reference: the name exists, the value has the
// field's type (a date parses, an ip is an address, an array field is an
// array), and a field with allowed or expected values has one of them.
// It also checks the fields Elastic's indicator match rules need are all
// there.
func TestECSFieldsAreInTheReference(t *testing.T) {
	ref := loadECSReference(t)
	st := goldenStore(t)
	var b bytes.Buffer
	if err := export.Write(context.Background(), &b, st, export.ECS, export.Options{
		Filter: export.Filter{Statuses: export.AllStatuses}, Now: func() time.Time { return exportAt },
	}); err != nil {
		t.Fatal(err)
	}
	required := []string{"@timestamp", "event.kind", "event.category", "event.type", "threat.feed.name",
		"threat.indicator.type", "threat.indicator.ip", "threat.indicator.first_seen", "threat.indicator.last_seen",
		"threat.indicator.modified_at", "threat.indicator.confidence", "threat.indicator.provider", "threat.indicator.marking.tlp"}
	docs := 0
	for line := range strings.Lines(b.String()) {
		docs++
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("line %d: %v", docs, err)
		}
		flat := map[string]any{}
		flatten("", doc, flat)
		for _, name := range required {
			if _, ok := flat[name]; !ok {
				t.Errorf("line %d: no %s", docs, name)
			}
		}
		names := make([]string, 0, len(flat))
		for name := range flat {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			checkECSValue(t, docs, name, flat[name], ref[name])
		}
	}
	if docs == 0 {
		t.Fatal("the ecs export is empty")
	}
}

func checkECSValue(t *testing.T, line int, name string, v any, f *ecsField) {
	t.Helper()
	if f == nil {
		t.Errorf("line %d: %s is not an ECS field", line, name)
		return
	}
	vals := []any{v}
	if arr, ok := v.([]any); ok {
		if !f.array {
			t.Errorf("line %d: %s is an array, but ECS does not declare it one", line, name)
		}
		vals = arr
	}
	for _, x := range vals {
		s, ok := x.(string)
		if !ok {
			t.Errorf("line %d: %s = %v, want a string for ECS type %s", line, name, x, f.typ)
			continue
		}
		switch f.typ {
		case "date":
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("line %d: %s = %q is not a date: %v", line, name, s, err)
			}
		case "ip":
			if _, err := netip.ParseAddr(s); err != nil {
				t.Errorf("line %d: %s = %q is not an IP address", line, name, s)
			}
		case "keyword":
		default:
			t.Errorf("line %d: %s has ECS type %s, which the test does not know", line, name, f.typ)
		}
		if len(f.allowed) > 0 && !slices.Contains(f.allowed, s) {
			t.Errorf("line %d: %s = %q, ECS allows %v", line, name, s, f.allowed)
		}
	}
}
