package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"forewarn/internal/config"
	"forewarn/internal/secret"
)

// FeedState is what the store remembers about a feed between runs.
type FeedState struct {
	Installed bool // a configuration is stored
	Enabled   bool
	// Watermark is the until of the last successful run (Unix seconds), or
	// 0 if the feed never succeeded.
	Watermark    int64
	ETag         string
	LastModified string
	BodySHA256   string
	Fingerprint  string
}

// FeedConfig returns a feed's stored configuration, or the defaults if none
// is stored (state.Installed is then false).
func (s *Store) FeedConfig(ctx context.Context, name string) (config.Seclytics, FeedState, error) {
	var (
		raw                      string
		token, etag, lm, sum, fp sql.NullString
		watermark                sql.NullInt64
		st                       FeedState
	)
	err := s.r.QueryRowContext(ctx, `SELECT enabled, config, token, watermark, etag, last_modified, body_sha256, fingerprint
		FROM feeds WHERE name = ?`, name).Scan(&st.Enabled, &raw, &token, &watermark, &etag, &lm, &sum, &fp)
	if errors.Is(err, sql.ErrNoRows) {
		return config.Default(), st, nil
	}
	if err != nil {
		return config.Seclytics{}, st, fmt.Errorf("read configuration of feed %s: %w", name, err)
	}
	cfg, err := config.Decode([]byte(raw))
	if err != nil {
		return cfg, st, fmt.Errorf("stored configuration of feed %s is invalid: %w; fix it with forewarn config %s --set", name, err, name)
	}
	cfg.Token = secret.New(token.String)
	st.Installed = true
	st.Watermark, st.ETag, st.LastModified, st.BodySHA256, st.Fingerprint = watermark.Int64, etag.String, lm.String, sum.String, fp.String
	return cfg, st, nil
}

// SaveFeedConfig validates and stores a feed's configuration and token.
// Changing the configuration forgets the stored validators, so that the next
// run ingests the dump under the new parameters even if it did not change.
func (s *Store) SaveFeedConfig(ctx context.Context, name string, cfg config.Seclytics) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var token any
	if cfg.Token.IsSet() {
		token = cfg.Token.Reveal()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO feeds (name, config, token, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET config = excluded.config, token = excluded.token, updated_at = excluded.updated_at`,
		name, string(cfg.Encode()), token, time.Now().Unix())
	if err != nil {
		return fmt.Errorf("store configuration of feed %s: %w", name, err)
	}
	return nil
}

// SetFeedEnabled enables or disables an installed feed.
func (s *Store) SetFeedEnabled(ctx context.Context, name string, enabled bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE feeds SET enabled = ?, updated_at = ? WHERE name = ?`, enabled, time.Now().Unix(), name)
	if err != nil {
		return fmt.Errorf("enable feed %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("feed %s is not configured: run forewarn config %s --set ... first: %w", name, name, ErrNotFound)
	}
	return nil
}
