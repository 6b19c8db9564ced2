package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Output is a stored output profile: everything but its key, of which the
// store keeps only the hash. Spec is the profile's format and options as
// JSON, which the store does not read (package output does).
type Output struct {
	Name      string
	Spec      string
	KeyPrefix string
	CreatedAt time.Time
	CreatedBy string
	// The last successful fetch: when (nil: never), by whom, how many
	// entries it held and the budget's cut-off ("" without a budget).
	FetchedAt *time.Time
	FetchedBy string
	Entries   int64
	CutOff    string
}

const outputColumns = `name, spec, key_prefix, created_at, created_by, fetched_at, fetched_by, COALESCE(entries, 0), cutoff`

func scanOutput(sc scanner) (Output, error) {
	var (
		o       Output
		created int64
		fetched sql.NullInt64
	)
	if err := sc.Scan(&o.Name, &o.Spec, &o.KeyPrefix, &created, &o.CreatedBy, &fetched, &o.FetchedBy, &o.Entries, &o.CutOff); err != nil {
		return o, err
	}
	o.CreatedAt = time.Unix(created, 0).UTC()
	o.FetchedAt = unixPtr(fetched)
	return o, nil
}

// CreateOutput stores a new profile with the hash and prefix of its key. A
// name in use is an error wrapping ErrConflict.
func (s *Store) CreateOutput(ctx context.Context, o Output, keyHash string) (Output, error) {
	out, err := scanOutput(s.w.QueryRowContext(ctx, `INSERT INTO outputs (name, spec, key_hash, key_prefix, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING `+outputColumns,
		o.Name, o.Spec, keyHash, o.KeyPrefix, time.Now().Unix(), o.CreatedBy))
	if isNoRows(err) {
		return Output{}, fmt.Errorf("output %q: %w: choose another name, or remove that one first", o.Name, ErrConflict)
	}
	if err != nil {
		return Output{}, fmt.Errorf("create output %s: %w", o.Name, err)
	}
	return out, nil
}

// Outputs returns every profile, by name.
func (s *Store) Outputs(ctx context.Context) ([]Output, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+outputColumns+` FROM outputs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list outputs: %w", err)
	}
	defer rows.Close()
	var out []Output
	for rows.Next() {
		o, err := scanOutput(rows)
		if err != nil {
			return nil, fmt.Errorf("list outputs: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outputs: %w", err)
	}
	return out, nil
}

// OutputNamed returns the profile name; ErrNotFound if there is none.
func (s *Store) OutputNamed(ctx context.Context, name string) (Output, error) {
	o, err := scanOutput(s.r.QueryRowContext(ctx, `SELECT `+outputColumns+` FROM outputs WHERE name = ?`, name))
	if isNoRows(err) {
		return o, fmt.Errorf("output %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("read output %s: %w", name, err)
	}
	return o, nil
}

// AuthenticateOutput returns the profile name if keyHash is its key's
// hash, and ErrUnauthorized otherwise (no such profile, or another key: a
// profile's key opens that profile and nothing else).
func (s *Store) AuthenticateOutput(ctx context.Context, name, keyHash string) (Output, error) {
	o, err := scanOutput(s.r.QueryRowContext(ctx, `SELECT `+outputColumns+` FROM outputs WHERE name = ? AND key_hash = ?`, name, keyHash))
	if isNoRows(err) {
		return o, ErrUnauthorized
	}
	if err != nil {
		return o, fmt.Errorf("authenticate output %s: %w", name, err)
	}
	return o, nil
}

// DeleteOutput removes the profile name; ErrNotFound if there is none.
func (s *Store) DeleteOutput(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM outputs WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("remove output %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("output %q: %w", name, ErrNotFound)
	}
	return nil
}

// SetOutputKey replaces the key of the profile name (its hash and prefix):
// the old key stops working at once. ErrNotFound if there is no profile.
func (s *Store) SetOutputKey(ctx context.Context, name, keyHash, keyPrefix string) (Output, error) {
	o, err := scanOutput(s.w.QueryRowContext(ctx, `UPDATE outputs SET key_hash = ?, key_prefix = ? WHERE name = ? RETURNING `+outputColumns,
		keyHash, keyPrefix, name))
	if isNoRows(err) {
		return o, fmt.Errorf("output %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("rotate the key of output %s: %w", name, err)
	}
	return o, nil
}

// RecordOutputFetch records a successful fetch of the profile name: when,
// by whom, how many entries and the budget's cut-off.
// A negative entries records only when and by whom (a MISP feed's
// manifest, which holds no entries of its own).
func (s *Store) RecordOutputFetch(ctx context.Context, name string, at time.Time, by string, entries int64, cutoff string) error {
	q, args := `UPDATE outputs SET fetched_at = ?, fetched_by = ?, entries = ?, cutoff = ? WHERE name = ?`, []any{at.Unix(), by, entries, cutoff, name}
	if entries < 0 {
		q, args = `UPDATE outputs SET fetched_at = ?, fetched_by = ? WHERE name = ?`, []any{at.Unix(), by, name}
	}
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("record a fetch of output %s: %w", name, err)
	}
	return nil
}
