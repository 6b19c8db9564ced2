package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"forewarn/internal/apikey"
	"forewarn/internal/service"
	"forewarn/internal/testutil"
)

// The allow-list over HTTP, against a real store: an admin adds (added_by
// is the key's name), a read key lists (built-in ranges included), and a
// range is removed with its "/" escaped in the path or given as ?cidr=.
func TestAllowlistEndpoints(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	admin, _, err := st.CreateAPIKey(ctx, "alice", apikey.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	read, _, err := st.CreateAPIKey(ctx, "siem", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Store: st, Service: service.New(service.Deps{Store: st})}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode, m
	}

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"cidr":"45.1.1.0/24","comment":"partner"}`, 201},
		{`{"cidr":"45.2.2.2"}`, 201},
		{`{"cidr":"45.1.1.7/24"}`, 409},
		{`{"cidr":"not-an-ip"}`, 400},
	} {
		if code, m := do("POST", "/api/v1/allowlist", admin, tc.body); code != tc.code {
			t.Fatalf("POST %s: %d %v, want %d", tc.body, code, m, tc.code)
		}
	}
	if code, _ := do("POST", "/api/v1/allowlist", read, `{"cidr":"45.3.3.3"}`); code != 403 {
		t.Fatalf("POST with a read key: %d", code)
	}
	code, m := do("GET", "/api/v1/allowlist", read, "")
	entries, _ := m["entries"].([]any)
	if code != 200 || m["special_ranges"] != true || len(entries) < 20 {
		t.Fatalf("GET: %d %v", code, m)
	}
	first := entries[0].(map[string]any)
	if first["cidr"] != "45.1.1.0/24" || first["added_by"] != "alice" || first["comment"] != "partner" || first["built_in"] != false {
		t.Errorf("first entry: %v", first)
	}
	last := entries[len(entries)-1].(map[string]any)
	if last["built_in"] != true || last["rfc"] == "" || last["enabled"] != true {
		t.Errorf("a built-in entry: %v", last)
	}

	if code, m := do("DELETE", "/api/v1/allowlist/45.1.1.0%2F24", admin, ""); code != 200 || m["removed"] != "45.1.1.0/24" {
		t.Fatalf("DELETE with %%2F: %d %v", code, m)
	}
	if code, _ := do("DELETE", "/api/v1/allowlist/45.2.2.2", admin, ""); code != 200 {
		t.Fatalf("DELETE a single address: %d", code)
	}
	if code, _ := do("POST", "/api/v1/allowlist", admin, `{"cidr":"2001:db8:1::/48"}`); code != 201 {
		t.Fatal("POST IPv6")
	}
	if code, m := do("DELETE", "/api/v1/allowlist?cidr=2001:db8:1::/48", admin, ""); code != 200 {
		t.Fatalf("DELETE ?cidr=: %d %v", code, m)
	}
	if code, _ := do("DELETE", "/api/v1/allowlist?cidr=2001:db8:1::/48", admin, ""); code != 404 {
		t.Fatalf("DELETE of a range not listed: %d", code)
	}
	if list, err := st.AllowlistEntries(ctx); err != nil || len(list) != 0 {
		t.Fatalf("entries left: %v %v", list, err)
	}
}
