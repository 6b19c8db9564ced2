package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"forewarn/internal/apikey"
)

// UISession is a signed-in web UI browser: the API key it signed in with
// (never the key itself) and its CSRF token.
type UISession struct {
	KeyID   int64
	KeyName string
	Role    apikey.Role
	CSRF    string
	Expires time.Time
	// TimeZone is the key's choice of time zone for the UI's times: ""
	// for UTC, else an IANA name (see SetKeyTimeZone).
	TimeZone string
}

func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateUISession stores a session under the cookie value id (only its
// hash is kept), and deletes expired ones.
func (s *Store) CreateUISession(ctx context.Context, id string, se UISession) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM ui_sessions WHERE expires_at < ?`, time.Now().Unix()); err != nil {
		return fmt.Errorf("create a session: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO ui_sessions (id_hash, key_id, csrf, expires_at) VALUES (?, ?, ?, ?)`,
		sessionHash(id), se.KeyID, se.CSRF, se.Expires.Unix()); err != nil {
		return fmt.Errorf("create a session: %w", err)
	}
	return nil
}

// UISession returns the live session of cookie value id: one that exists,
// has not expired, and whose API key is not revoked. Otherwise the error
// wraps ErrNotFound.
func (s *Store) UISession(ctx context.Context, id string) (UISession, error) {
	var se UISession
	var exp int64
	var role string
	err := s.r.QueryRowContext(ctx, `SELECT k.id, k.name, k.role, u.csrf, u.expires_at, k.time_zone
		FROM ui_sessions u JOIN api_keys k ON k.id = u.key_id
		WHERE u.id_hash = ? AND u.expires_at >= ? AND k.revoked_at IS NULL`, sessionHash(id), time.Now().Unix()).
		Scan(&se.KeyID, &se.KeyName, &role, &se.CSRF, &exp, &se.TimeZone)
	if errors.Is(err, sql.ErrNoRows) {
		return se, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return se, fmt.Errorf("read a session: %w", err)
	}
	se.Role, se.Expires = apikey.Role(role), time.Unix(exp, 0)
	return se, nil
}

// DeleteUISession ends the session of cookie value id.
func (s *Store) DeleteUISession(ctx context.Context, id string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM ui_sessions WHERE id_hash = ?`, sessionHash(id)); err != nil {
		return fmt.Errorf("end a session: %w", err)
	}
	return nil
}

// MaxTimeZone bounds a stored time zone name: the longest IANA name is
// about 30 bytes.
const MaxTimeZone = 64

// SetKeyTimeZone stores the time zone the web UI writes times in for the
// API key id: "" for UTC, else an IANA name the caller checked. The error
// wraps ErrNotFound when no such key exists.
func (s *Store) SetKeyTimeZone(ctx context.Context, id int64, zone string) error {
	if len(zone) > MaxTimeZone {
		return fmt.Errorf("time zone %.64q: longer than %d bytes: %w", zone, MaxTimeZone, ErrBadQuery)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE api_keys SET time_zone = ? WHERE id = ?`, zone, id)
	if err != nil {
		return fmt.Errorf("set the time zone of key %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("key %d: %w", id, ErrNotFound)
	}
	return nil
}
