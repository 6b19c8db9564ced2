package service

import (
	"context"
	"strings"
	"time"

	"forewarn/internal/store"
)

// The store's web UI sessions, as signing in and out needs them.
type sessionStore interface {
	CreateUISession(ctx context.Context, id string, se store.UISession) error
	DeleteUISession(ctx context.Context, id string) error
	SetKeyTimeZone(ctx context.Context, id int64, zone string) error
}

// StartSession stores the web UI session of cookie value id (only its
// hash is kept), signed in by the actor, and records the sign-in.
func (s *Service) StartSession(ctx context.Context, a Actor, id string, se store.UISession) error {
	if err := s.d.Store.CreateUISession(ctx, id, se); err != nil {
		return err
	}
	s.record(ctx, a, "ui.signin", a.Name, "")
	return nil
}

// EndSession signs the session of cookie value id out.
func (s *Service) EndSession(ctx context.Context, id string) error {
	return s.d.Store.DeleteUISession(ctx, id)
}

// UTC is the time zone every time is written in unless a person chooses
// another.
const UTC = "UTC"

// ParseTimeZone reads a person's choice of time zone: UTC (or empty) or
// an IANA name such as Europe/Paris, as a browser reports its own
// (Intl.DateTimeFormat().resolvedOptions().timeZone). It returns the
// name to store ("" for UTC) and its location.
func ParseTimeZone(field, v string) (string, *time.Location, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == UTC || v == "Etc/UTC" {
		return "", time.UTC, nil
	}
	if len(v) > store.MaxTimeZone {
		return "", nil, invalid(field, "is %d bytes long, which no time zone name is", len(v))
	}
	// "Local" would be the server's zone, not the person's.
	if v == "Local" {
		return "", nil, invalid(field, "must be UTC or a time zone name such as Europe/Paris, not Local")
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return "", nil, invalid(field, "must be UTC or a time zone name such as Europe/Paris: %q is not one this server knows", v)
	}
	return v, loc, nil
}

// SetTimeZone stores the time zone the web UI writes times in for the
// actor's API key: UTC (the default) or an IANA name, checked by
// ParseTimeZone. Every browser signed in with the key follows it.
func (s *Service) SetTimeZone(ctx context.Context, a Actor, zone string) (string, error) {
	name, _, err := ParseTimeZone("time_zone", zone)
	if err != nil {
		return "", err
	}
	if a.KeyID == 0 {
		return "", invalid("time_zone", "is kept per API key: sign in with one")
	}
	if err := s.d.Store.SetKeyTimeZone(ctx, a.KeyID, name); err != nil {
		return "", err
	}
	shown := name
	if shown == "" {
		shown = UTC
	}
	s.record(ctx, a, "key.time_zone", a.Name, shown)
	return name, nil
}
