package store

import (
	"context"
	"fmt"
	"time"

	"forewarn/internal/activity"
)

// FeedDefinition is a custom feed definition as stored.
type FeedDefinition struct {
	ID      string
	Source  []byte // the YAML as given
	AddedBy string
	AddedAt time.Time
}

// MaxFeedDefinition caps a stored definition's size.
const MaxFeedDefinition = 256 << 10

// AddFeedDefinition stores a custom definition (validated by the caller);
// an id already stored is an error wrapping ErrConflict.
func (s *Store) AddFeedDefinition(ctx context.Context, d FeedDefinition) error {
	if len(d.Source) > MaxFeedDefinition {
		return fmt.Errorf("feed definition %s is %d bytes, over %d", d.ID, len(d.Source), MaxFeedDefinition)
	}
	if d.AddedAt.IsZero() {
		d.AddedAt = time.Now()
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO feed_definitions (id, source, added_by, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, d.ID, string(d.Source), d.AddedBy, d.AddedAt.Unix())
	if err != nil {
		return fmt.Errorf("store feed definition %s: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("a feed definition with id %s is already stored: remove it first with forewarn feed rm %s, or choose another id: %w", d.ID, d.ID, ErrConflict)
	}
	return nil
}

// RemoveFeedDefinition deletes a custom definition; one not stored is an
// error wrapping ErrNotFound. The feed's configuration, activity log and
// indicators are not touched here.
func (s *Store) RemoveFeedDefinition(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM feed_definitions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("remove feed definition %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no custom feed definition %s is stored: %w", id, ErrNotFound)
	}
	return nil
}

// FeedDefinitions returns the custom definitions, by id.
func (s *Store) FeedDefinitions(ctx context.Context) ([]FeedDefinition, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, source, added_by, added_at FROM feed_definitions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read feed definitions: %w", err)
	}
	defer rows.Close()
	var out []FeedDefinition
	for rows.Next() {
		var (
			d   FeedDefinition
			src string
			at  int64
		)
		if err := rows.Scan(&d.ID, &src, &d.AddedBy, &at); err != nil {
			return nil, fmt.Errorf("read feed definitions: %w", err)
		}
		d.Source, d.AddedAt = []byte(src), time.Unix(at, 0).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read feed definitions: %w", err)
	}
	return out, nil
}

// FeedSummary is what the list of feeds shows of one: whether it is
// enabled, its last run, and how many indicators it lists now.
type FeedSummary struct {
	Configured bool
	Enabled    bool
	LastRun    *activity.Run
	Indicators int64
}

// FeedSummary returns the summary of feed name (the zero summary for a
// feed never configured nor run). Seclytics' indicators are the store's
// (as its page shows them); a list feed's are its current memberships.
func (s *Store) FeedSummary(ctx context.Context, name string) (FeedSummary, error) {
	var sum FeedSummary
	err := s.r.QueryRowContext(ctx, `SELECT enabled FROM feeds WHERE name = ?`, name).Scan(&sum.Enabled)
	switch {
	case err == nil:
		sum.Configured = true
	case !isNoRows(err):
		return sum, fmt.Errorf("read feed %s: %w", name, err)
	}
	runs, err := s.Runs(ctx, name, 1)
	if err != nil {
		return sum, err
	}
	if len(runs) == 1 {
		sum.LastRun = &runs[0]
	}
	if name == "seclytics" {
		// The store's counter, as the Seclytics page shows it: counting
		// what Seclytics lists would read every indicator.
		v, err := s.DataVersion(ctx)
		sum.Indicators = v.Count
		return sum, err
	}
	// The counter each list run sets (IngestList); a feed that never ran
	// has no row and lists nothing.
	err = s.r.QueryRowContext(ctx, `SELECT listed FROM list_feeds WHERE feed = ?`, name).Scan(&sum.Indicators)
	if err != nil && !isNoRows(err) {
		return sum, fmt.Errorf("read the indicators of feed %s: %w", name, err)
	}
	return sum, nil
}
