package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBaseURLCannotExfiltrateTheToken plays the careless or hostile admin
// of issue 13 C10 against real loopback servers: a base_url that would
// send the token elsewhere is refused, a new origin drops the stored token,
// and a body that is no dump never reaches a run's error.
func TestBaseURLCannotExfiltrateTheToken(t *testing.T) {
	h := startServe(t, "", newFake(t, 20, nil))
	h.configure(nil)
	tokenSet := func() bool {
		cfg := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["config"].(map[string]any)
		return cfg["token"].(map[string]any)["configured"].(bool)
	}

	for _, bad := range []string{
		"http://attacker.example", // plain http off loopback
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/#", // fragment cuts the dump path
		"https://api.seclytics.com/x?",                                       // an empty query does too
		"https://api.seclytics.com/?a=1",
		"https://user:pw@api.seclytics.com",
		"https://api.seclytics.com/a/../../b",
	} {
		r := h.do("PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"base_url": bad})
		if r.status != 400 || r.errField() != "base_url" {
			t.Errorf("PUT base_url=%q: %d %s, want 400 naming base_url", bad, r.status, r.raw)
		}
	}
	if !tokenSet() {
		t.Fatal("a refused base_url removed the token")
	}

	// A loopback server that answers 200 with something that is no dump,
	// as a cloud metadata service would; it must never see the token.
	var sawToken atomic.Bool
	const secretLine = "AccessKeyId,SecretAccessKey,Token-CREDENTIAL-42"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "access_token") {
			sawToken.Store(true)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(secretLine + "\nAKIA,abc,def\n"))
	}))
	t.Cleanup(other.Close)

	// Same origin, other path: the token stays.
	h.must(200, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"base_url": h.serveFake() + "/prefix"})
	if !tokenSet() {
		t.Fatal("a base_url on the same origin removed the token")
	}
	// Another origin: the token goes.
	h.must(200, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"base_url": other.URL})
	if tokenSet() {
		t.Fatal("moving base_url to another origin kept the stored token")
	}
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"dry_run": true}).body["run_id"].(float64)
	run := h.waitRun(id)
	if run["status"] != "failed" || sawToken.Load() {
		t.Fatalf("dry run without a token: status %v, token sent: %v", run["status"], sawToken.Load())
	}

	// Another origin with a token in the same request: kept, as asked.
	h.must(200, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"base_url": other.URL, "token": "tok-for-other"})
	if !tokenSet() {
		t.Fatal("a token set with the new base_url was dropped")
	}
	id = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"dry_run": true}).body["run_id"].(float64)
	run = h.waitRun(id)
	msg, _ := run["error"].(string)
	if run["status"] != "failed" || strings.Contains(msg, "CREDENTIAL") || strings.Contains(msg, "AccessKeyId") ||
		!strings.Contains(msg, "HTTP 200") || !strings.Contains(msg, "text/plain") {
		t.Fatalf("run on a body that is no dump: status %v, error %q; want a failure naming only status and content type", run["status"], msg)
	}
}
