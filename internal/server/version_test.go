package server

import (
	"html"
	"io"
	"strings"
	"testing"

	"forewarn/internal/buildinfo"
)

// Which binary serves: /api/v1/version (a key needed) and the footer of a
// signed-in page say the same as `forewarn version`; the sign-in page
// does not tell a stranger.
func TestVersionInAPIAndFooter(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	want := buildinfo.Get()
	h.must(401, "GET", "/api/v1/version", "", nil)
	got := h.must(200, "GET", "/api/v1/version", h.admin, nil).body
	for k, v := range map[string]string{"version": want.Version, "revision": want.Revision, "build_time": want.BuildTime, "go_version": want.GoVersion} {
		if got[k] != v {
			t.Errorf("/api/v1/version %s = %v, want %q", k, got[k], v)
		}
	}

	footer := `<span class="build" title="revision ` + html.EscapeString(want.Revision)
	c, _ := h.uiClient(h.admin)
	for path, shown := range map[string]bool{"/": true, "/login": false} {
		cl := c
		if !shown {
			cl = client // no session
		}
		resp, err := cl.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if has := strings.Contains(page, footer) && strings.Contains(page, html.EscapeString(want.GoVersion)); has != shown {
			t.Errorf("%s (status %d): version in the footer %v, want %v", path, resp.StatusCode, has, shown)
		}
	}
}
