package service

import (
	"context"
	"strconv"
	"strings"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
)

// CreateKey makes an API key named name with role ("read" or "admin") and
// a note saying what it is for ("" for none), and returns it, the only
// time it is shown, with its record. A name in use is an error wrapping
// store.ErrConflict.
func (s *Service) CreateKey(ctx context.Context, a Actor, name, role, note string) (string, store.APIKey, error) {
	var errName, errRole, errNote error
	if strings.TrimSpace(name) == "" {
		errName = invalid("name", "name the key, for example after who or what uses it")
	} else if err := store.CheckKeyName(name); err != nil {
		errName = invalid("name", "%v", err)
	}
	r, err := apikey.ParseRole(role)
	if err != nil {
		errRole = invalid("role", "%v", err)
	}
	note = strings.TrimSpace(note)
	if err := store.CheckKeyNote(note); err != nil {
		errNote = invalid("note", "%v", err)
	}
	if err := joinInvalid(errName, errRole, errNote); err != nil {
		return "", store.APIKey{}, err
	}
	key, k, err := s.d.Store.CreateNotedAPIKey(ctx, name, r, note)
	if err != nil {
		return "", k, err
	}
	s.record(ctx, a, "apikey.create", k.Name+" (id "+itoa(k.ID)+")", "role "+string(k.Role))
	return key, k, nil
}

// RevokeKey revokes the key with the given name, or id if nameOrID is a
// number. It reports whether the key was already revoked (then nothing
// changes). A key that does not exist is an error wrapping
// store.ErrNotFound.
func (s *Service) RevokeKey(ctx context.Context, a Actor, nameOrID string) (store.APIKey, bool, error) {
	if strings.TrimSpace(nameOrID) == "" {
		return store.APIKey{}, false, invalid("key", "name the key to revoke, by name or id")
	}
	keys, err := s.d.Store.APIKeys(ctx)
	if err != nil {
		return store.APIKey{}, false, err
	}
	for _, k := range keys {
		if (k.Name == nameOrID || strconv.FormatInt(k.ID, 10) == nameOrID) && k.RevokedAt != nil {
			return k, true, nil
		}
	}
	k, err := s.d.Store.RevokeAPIKey(ctx, nameOrID)
	if err != nil {
		return k, false, err
	}
	s.record(ctx, a, "apikey.revoke", k.Name+" (id "+itoa(k.ID)+")", "")
	return k, false, nil
}
