package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"forewarn/internal/apikey"
)

func TestUISessions(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	_, k, err := s.CreateAPIKey(ctx, "analyst", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	const id, expired = "cookie-value-7f3a9c", "cookie-value-old"
	if err := s.CreateUISession(ctx, id, UISession{KeyID: k.ID, CSRF: "csrf-1", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUISession(ctx, expired, UISession{KeyID: k.ID, CSRF: "csrf-2", Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UISession(ctx, id)
	if err != nil || got.KeyID != k.ID || got.KeyName != "analyst" || got.Role != apikey.RoleRead || got.CSRF != "csrf-1" {
		t.Fatalf("UISession = %+v, %v", got, err)
	}
	if _, err := s.UISession(ctx, expired); !errors.Is(err, ErrNotFound) {
		t.Errorf("an expired session: %v, want ErrNotFound", err)
	}
	if _, err := s.UISession(ctx, "never-issued"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown session: %v, want ErrNotFound", err)
	}
	// Only the hash of the cookie value is stored.
	if b := storeText(t, s); bytes.Contains(b, []byte(id)) || !bytes.Contains(b, []byte(sessionHash(id))) {
		t.Error("the store holds the session's cookie value, or not its hash")
	}
	// Revoking the key ends its sessions; so does signing out.
	if _, err := s.RevokeAPIKey(ctx, "analyst"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UISession(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session of a revoked key: %v, want ErrNotFound", err)
	}
	_, k2, _ := s.CreateAPIKey(ctx, "ops", apikey.RoleAdmin)
	s.CreateUISession(ctx, "c2", UISession{KeyID: k2.ID, CSRF: "x", Expires: time.Now().Add(time.Hour)})
	if err := s.DeleteUISession(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UISession(ctx, "c2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a signed-out session: %v, want ErrNotFound", err)
	}
}
