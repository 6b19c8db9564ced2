package store

import (
	"context"
	"fmt"
	"time"
)

// DataVersion summarises the indicators' state cheaply, for HTTP
// validators and the UI's caches: the newest update time and the number of
// indicators. Any run that creates or changes indicators moves the first; a
// purge moves the second. It reads one index entry and one counter, so it
// costs the same at any size.
type DataVersion struct {
	LastUpdate time.Time
	Count      int64
}

// DataVersion returns the indicators' current DataVersion.
func (s *Store) DataVersion(ctx context.Context) (DataVersion, error) {
	var v DataVersion
	var last int64
	if err := s.r.QueryRowContext(ctx, `SELECT (SELECT n FROM store_counts WHERE name = 'indicators'),
		(SELECT COALESCE(MAX(updated_at), 0) FROM indicators)`).Scan(&v.Count, &last); err != nil {
		return v, fmt.Errorf("read the indicators' version: %w", err)
	}
	v.LastUpdate = time.Unix(last, 0).UTC()
	return v, nil
}

// addCount adds delta to the named count of store_counts, inside tx: a
// count moves with the change it counts, or not at all.
func addCount(ctx context.Context, tx *tx, name string, delta int64) error {
	if delta == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE store_counts SET n = n + ? WHERE name = ?`, delta, name); err != nil {
		return fmt.Errorf("count %s: %w", name, err)
	}
	return nil
}
