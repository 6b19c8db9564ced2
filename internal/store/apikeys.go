package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"forewarn/internal/apikey"
)

// ErrConflict is returned when something of the same name already exists.
var ErrConflict = errors.New("already exists")

// ErrUnauthorized is returned when an API key is unknown or revoked.
var ErrUnauthorized = errors.New("unauthorized")

// APIKey is a stored API key: everything but the key, which is never stored.
type APIKey struct {
	ID     int64       `json:"id"`
	Name   string      `json:"name"`
	Role   apikey.Role `json:"role"`
	Prefix string      `json:"prefix"`
	// Note says what the key is for, as its creator wrote it ("" for none).
	Note       string     `json:"note,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

const apiKeyColumns = `id, name, role, prefix, note, created_at, last_used_at, revoked_at`

func scanAPIKey(sc scanner) (APIKey, error) {
	var (
		k             APIKey
		role          string
		created       int64
		used, revoked sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.Name, &role, &k.Prefix, &k.Note, &created, &used, &revoked); err != nil {
		return k, err
	}
	k.Role = apikey.Role(role)
	k.CreatedAt = time.Unix(created, 0).UTC()
	k.LastUsedAt, k.RevokedAt = unixPtr(used), unixPtr(revoked)
	return k, nil
}

// maxKeyName bounds a key's name: it is shown in tables.
const maxKeyName = 64

// CheckKeyName says what is wrong with a key's name, if anything. A name
// that is a number would be mistaken for an id by RevokeAPIKey.
func CheckKeyName(name string) error {
	if name == "" {
		return errors.New("an API key needs a name (--name), e.g. the client that will use it")
	}
	if len(name) > maxKeyName {
		return fmt.Errorf("API key name %q is longer than %d characters", name, maxKeyName)
	}
	digits := true
	for _, c := range name {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.', c == '@':
			digits = false
		default:
			return fmt.Errorf("API key name %q has %q: use letters, digits and - _ . @", name, c)
		}
	}
	if digits {
		return fmt.Errorf("API key name %q is a number, which would be taken for a key id: add a letter", name)
	}
	return nil
}

// MaxKeyNote bounds a key's note, in bytes: it is shown in the key list.
const MaxKeyNote = 400

// CheckKeyNote says what is wrong with a key's note, if anything.
func CheckKeyNote(note string) error {
	if len(note) > MaxKeyNote {
		return fmt.Errorf("the note has %d bytes: shorten it to %d at most", len(note), MaxKeyNote)
	}
	if !utf8.ValidString(note) {
		return errors.New("the note is not valid UTF-8 text")
	}
	for _, c := range note {
		if unicode.IsControl(c) {
			return fmt.Errorf("the note has the control character %q: write it on one line", c)
		}
	}
	return nil
}

// CreateAPIKey makes a new key with the given name and role and returns it
// with its record. The key is returned only here: the store keeps its
// hash. A name already taken (by a revoked key too) is an error wrapping
// ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, name string, role apikey.Role) (string, APIKey, error) {
	return s.CreateNotedAPIKey(ctx, name, role, "")
}

// CreateNotedAPIKey is CreateAPIKey with a note saying what the key is for
// (at most MaxKeyNote bytes of one-line text).
func (s *Store) CreateNotedAPIKey(ctx context.Context, name string, role apikey.Role, note string) (string, APIKey, error) {
	if err := CheckKeyName(name); err != nil {
		return "", APIKey{}, err
	}
	if err := CheckKeyNote(note); err != nil {
		return "", APIKey{}, fmt.Errorf("create API key %s: %w", name, err)
	}
	role, err := apikey.ParseRole(string(role))
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key %s: %w", name, err)
	}
	key, hash, err := apikey.Generate()
	if err != nil {
		return "", APIKey{}, err
	}
	now := time.Now().Unix()
	k, err := scanAPIKey(s.w.QueryRowContext(ctx, `INSERT INTO api_keys (name, role, hash, prefix, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING `+apiKeyColumns,
		name, string(role), hash, apikey.Prefix(key), note, now))
	if isNoRows(err) {
		return "", APIKey{}, fmt.Errorf("API key name %q: %w: choose another name (a revoked key keeps its name)", name, ErrConflict)
	}
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key %s: %w", name, err)
	}
	return key, k, nil
}

// APIKeys returns every key, revoked ones included, by id.
func (s *Store) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes the key with the given name, or id if nameOrID is a
// number (names never are). From then on the key no longer authenticates.
// Revoking a revoked key changes nothing and returns it. A key that does not
// exist is an error wrapping ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, nameOrID string) (APIKey, error) {
	col, arg := "name", any(nameOrID)
	if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil {
		col, arg = "id", id
	}
	k, err := scanAPIKey(s.w.QueryRowContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
		WHERE `+col+` = ? RETURNING `+apiKeyColumns, time.Now().Unix(), arg))
	if isNoRows(err) {
		return k, fmt.Errorf("no API key with %s %q (forewarn apikey list shows them): %w", col, nameOrID, ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("revoke API key %s: %w", nameOrID, err)
	}
	return k, nil
}

// ActiveAPIKeys counts the keys that are not revoked.
func (s *Store) ActiveAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count API keys: %w", err)
	}
	return n, nil
}

// AuthenticateAPIKey returns the record of key, or an error wrapping
// ErrUnauthorized if no such key exists or it was revoked.
//
// It reads from the read pool, so that requests never wait for a feed run
// that holds the writer. It records the key's use (last_used_at) at most
// once a minute per key, and only if the writer is free within a short
// wait; see recordKeyUse.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (APIKey, error) {
	if !strings.HasPrefix(key, apikey.KeyPrefix) {
		return APIKey{}, fmt.Errorf("not a forewarn API key (they start with %s): %w", apikey.KeyPrefix, ErrUnauthorized)
	}
	// The lookup is by the key's SHA-256, so its timing tells an attacker
	// nothing about any stored key.
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, apikey.Hash(key)))
	if isNoRows(err) {
		return APIKey{}, fmt.Errorf("unknown API key: check the key, or create one with forewarn apikey create: %w", ErrUnauthorized)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("authenticate API key: %w", err)
	}
	if k.RevokedAt != nil {
		return APIKey{}, fmt.Errorf("API key %s (%s…) was revoked at %s: create a new one with forewarn apikey create: %w",
			k.Name, k.Prefix, k.RevokedAt.Format(time.RFC3339), ErrUnauthorized)
	}
	if t, ok := s.recordKeyUse(ctx, k.ID, time.Now()); ok {
		k.LastUsedAt = &t
	}
	return k, nil
}

// keyUseInterval is how often a key's last use is written at most.
const keyUseInterval = time.Minute

// keyUseWait bounds how long authentication waits for the writer to record
// a use. A feed run holds the writer for minutes; requests must not.
const keyUseWait = 200 * time.Millisecond

// keyUses remembers, per key, when this Store last tried to write the
// key's last use, so that a busy API writes each key at most once a minute
// and never waits on every request. It holds one entry per key that
// authenticated, so it is bounded by the keys in the store.
type keyUses struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

// due reports whether a use of key id at now should be written, and if so
// counts it as tried.
func (u *keyUses) due(id int64, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, seen := u.m[id]; seen && now.Sub(last) < keyUseInterval {
		return false
	}
	if u.m == nil {
		u.m = map[int64]time.Time{}
	}
	u.m[id] = now
	return true
}

// writerBusy reports whether every connection of the writer is in use, so
// that a write would queue behind them: on SQLite (one connection) while a
// feed run holds it, on PostgreSQL only when the whole pool is taken.
func (s *Store) writerBusy() bool {
	st := s.w.Stats()
	return st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections
}

// recordKeyUse writes now as the key's last use if it was not written (or
// tried) within keyUseInterval, and reports the time written.
//
// Recording a use is bookkeeping, not part of authentication: if the writer
// is busy (a feed run holds it) or the write fails, the request still
// succeeds. A use skipped because this process's writer is busy is not
// counted as tried: the check cost nothing, so the first use after the run
// records. That failure is deliberately not returned: it would turn a
// valid key into a failed request.
func (s *Store) recordKeyUse(ctx context.Context, id int64, now time.Time) (time.Time, bool) {
	if s.writerBusy() || !s.keyUses.due(id, now) {
		return time.Time{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, keyUseWait)
	defer cancel()
	t := now.Truncate(time.Second).UTC()
	if _, err := s.w.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		t.Unix(), id, t.Unix()); err != nil {
		return time.Time{}, false
	}
	return t, true
}
