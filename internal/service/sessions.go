package service

import (
	"context"

	"forewarn/internal/store"
)

// The store's web UI sessions, as signing in and out needs them.
type sessionStore interface {
	CreateUISession(ctx context.Context, id string, se store.UISession) error
	DeleteUISession(ctx context.Context, id string) error
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
