package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document lists exactly the endpoints the server routes, and
// says which role each needs.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var op struct {
				Description string `json:"description"`
				Security    *[]any `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			role := roleOf(t, strings.ToUpper(method), path)
			switch {
			case role == "" && (op.Security == nil || len(*op.Security) != 0):
				t.Errorf("%s %s needs no key but the document does not say security: []", method, path)
			case role != "" && !strings.Contains(op.Description, "the "+string(role)+" role"):
				t.Errorf("%s %s needs the %s role but its description says %q", method, path, role, op.Description)
			}
		}
	}
	var routed []string
	for _, r := range New(Deps{}).Routes() {
		routed = append(routed, r.Method+" "+r.Path)
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Fatalf("openapi.json and the routes differ:\ndocumented: %v\nrouted:     %v", documented, routed)
	}
}

func roleOf(t *testing.T, method, path string) string {
	for _, r := range New(Deps{}).Routes() {
		if r.Method == method && r.Path == path {
			return string(r.Role)
		}
	}
	t.Errorf("%s %s is documented but not routed", method, path)
	return "?"
}
