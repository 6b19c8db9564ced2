package store

import (
	"context"
	"strings"
	"testing"

	"forewarn/internal/secret"
)

// TestListFeedConfig: a list feed's settings and secret round-trip; the
// secret is stored encrypted; saving forgets the last body's validators.
func TestListFeedConfig(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if cfg, enabled, err := s.ListFeedConfig(ctx, "feodo"); err != nil || enabled || cfg.Settings != nil || cfg.Token.IsSet() {
		t.Fatalf("never configured: %+v, %v, %v", cfg, enabled, err)
	}
	ingestList(t, s, ListRun{Feed: "feodo", Source: "Feodo", Mode: ModeSnapshot, Confidence: 90, Now: listT0,
		Validators: ListValidators{ETag: `"1"`, BodySHA256: "ab"}}, list("192.0.2.1"))
	want := ListFeedConfig{Settings: map[string]string{"min": "3"}, BaseURL: "http://127.0.0.1:1", Token: secret.New("tok-secret")}
	if err := s.SaveListFeedConfig(ctx, "feodo", want); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFeedEnabled(ctx, "feodo", true); err != nil {
		t.Fatal(err)
	}
	got, enabled, err := s.ListFeedConfig(ctx, "feodo")
	if err != nil || !enabled || got.Settings["min"] != "3" || got.BaseURL != want.BaseURL || got.Token.Reveal() != "tok-secret" {
		t.Fatalf("stored: %+v (token %q), %v, %v", got, got.Token.Reveal(), enabled, err)
	}
	var raw, token string
	if err := s.r.QueryRowContext(ctx, `SELECT config, token FROM feeds WHERE name = 'feodo'`).Scan(&raw, &token); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw+token, "tok-secret") {
		t.Fatalf("the secret is stored in the clear: %s / %s", raw, token)
	}
	if st, err := s.ListFeedState(ctx, "feodo"); err != nil || st.Validators != (ListValidators{}) {
		t.Fatalf("validators after a configuration change: %+v, %v", st.Validators, err)
	}
}
