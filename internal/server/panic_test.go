package server

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"forewarn/internal/testutil"
)

// Every paginated endpoint answers a malformed or forged cursor with 400
// and a message, never a panic (a cut connection) or a 500. {"k":-1} made
// TAXII index out of range.
func TestMalformedCursorsAnswer400(t *testing.T) {
	h := startServe(t, "", newFake(t, 30, nil))
	h.configure(nil)
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cursors := map[string]string{
		"negative skip":          "eyJrIjotMX0", // {"k":-1}
		"negative skip, partial": b64(`{"i":true,"k":-5,"v":"1.2.3.4"}`),
		"huge skip":              b64(`{"k":1000000000}`),
		"forged store cursor":    b64(`{"i":true,"c":"AAAA"}`),
		"store cursor, no i":     b64(`{"c":"AQ"}`),
		"not base64":             "@@not~base64!",
		"not JSON":               b64(`[1,2`),
		"wrong type":             b64(`{"k":"x"}`),
		"huge":                   strings.Repeat("A", 4000),
	}
	coll := "/taxii2/api/collections/seclytics-all/"
	ui, _ := h.uiClient(h.admin)
	for name, cur := range cursors {
		for _, ep := range []struct{ path, how string }{
			{"/api/v1/indicators?cursor=", "api"},
			{"/api/v1/indicators?sort=-updated&cursor=", "api"},
			{"/api/v1/runs?cursor=", "api"},
			{coll + "objects/?next=", "taxii"},
			{coll + "manifest/?next=", "taxii"},
			{"/indicators?cursor=", "ui"},
		} {
			t.Run(name+" "+ep.path, func(t *testing.T) {
				req, _ := http.NewRequest("GET", h.base+ep.path+cur, nil)
				c := client
				switch ep.how {
				case "api":
					req.Header.Set("Authorization", "Bearer "+h.admin)
				case "taxii":
					req.SetBasicAuth("x", h.admin)
				case "ui":
					c = ui
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v (a panic cuts the connection)", ep.path, err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("GET %s%.20s: status %d, want 400: %.300s", ep.path, cur, resp.StatusCode, raw)
				}
				if !strings.Contains(string(raw), "start again without it") {
					t.Errorf("the 400 does not say what to do: %.300s", raw)
				}
			})
		}
	}
	if strings.Contains(h.logs.String(), "panic") {
		t.Errorf("serve logged a panic:\n%s", h.logs)
	}
}

// A handler's panic answers 500 in the path's error shape, with no stack
// to the client and one log line; a reply already under way is cut; the
// server goes on serving.
func TestRecoverPanics(t *testing.T) {
	logs := &testutil.Buffer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "fine")
			return
		}
		if strings.HasSuffix(r.URL.Path, "/partial") {
			io.WriteString(w, "half a reply")
			_ = http.NewResponseController(w).Flush()
		}
		var s []int
		_ = s[len(r.URL.Path)] // index out of range, as the TAXII cursor did
	})
	srv := httptest.NewServer(recoverPanics(slog.New(slog.NewTextHandler(logs, nil)), mux))
	defer srv.Close()
	get := func(path string) (*http.Response, string, error) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp, string(raw), err
	}
	for _, tc := range []struct{ path, ctype string }{
		{"/api/v1/indicators", "application/json"},
		{"/taxii2/api/", "application/taxii+json;version=2.1"},
		{"/dashboard", "text/plain; charset=utf-8"},
	} {
		resp, body, err := get(tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q, want 500 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if strings.Contains(body, "goroutine") || strings.Contains(body, "index out of range") {
			t.Errorf("GET %s: the reply shows internals: %s", tc.path, body)
		}
		if tc.ctype == "application/json" {
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "internal" {
				t.Errorf("GET %s: not the API's error shape: %s", tc.path, body)
			}
		}
	}
	if _, _, err := get("/api/v1/partial"); err == nil {
		t.Error("a reply cut by a panic read as complete: the connection must be closed")
	}
	if _, body, err := get("/ok"); err != nil || body != "fine" {
		t.Fatalf("after panics: %q, %v", body, err)
	}
	if n := strings.Count(logs.String(), "request panicked"); n != 4 {
		t.Errorf("%d log lines about panics, want 4 (one each):\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "\n"); n != 4 {
		t.Errorf("the log has %d lines, want 4 (one per panic)", n)
	}
}
