package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStringNeverShowsValue(t *testing.T) {
	const tok = "tok-0123456789abcdef"
	s := New(tok + "\n")
	if s.Reveal() != tok {
		t.Fatalf("Reveal() = %q, want %q", s.Reveal(), tok)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})).Debug("x", "token", s)
	js, _ := json.Marshal(struct{ T String }{s})
	txt, _ := s.MarshalText()
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s),
		"%+v": fmt.Sprintf("%+v", struct{ T String }{s}), "%#v": fmt.Sprintf("%#v", s),
		"%x": fmt.Sprintf("%x", s), "slog": logBuf.String(), "json": string(js), "text": string(txt),
	}
	for name, out := range outputs {
		if strings.Contains(out, tok) {
			t.Errorf("%s shows the token: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s does not say %s: %s", name, Redacted, out)
		}
	}
}

func TestScrub(t *testing.T) {
	s := New("abcdef123")
	got := s.Scrub(`Get "https://x/y?access_token=abcdef123": EOF`)
	if strings.Contains(got, "abcdef123") || !strings.Contains(got, Redacted) {
		t.Fatalf("Scrub left the token: %s", got)
	}
	if New("").IsSet() || !s.IsSet() {
		t.Fatal("IsSet wrong")
	}
}
