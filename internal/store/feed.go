package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
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
	tok, err := s.revealToken(ctx, name, token.String)
	if err != nil {
		return cfg, st, err
	}
	cfg.Token = secret.New(tok)
	st.Installed = true
	st.Watermark, st.ETag, st.LastModified, st.BodySHA256, st.Fingerprint = watermark.Int64, etag.String, lm.String, sum.String, fp.String
	return cfg, st, nil
}

// revealToken decrypts a stored token. A plain-text token stored by an older
// forewarn is returned as is and encrypted in place, so that the database
// stops holding it in the clear.
func (s *Store) revealToken(ctx context.Context, feed, stored string) (string, error) {
	if stored == "" {
		return "", nil
	}
	if strings.HasPrefix(stored, sealedPrefix) {
		key, err := s.tokenKey(false)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: its key file %s is missing (restore it from the backup you took with the database, or store the token again with forewarn config %s --token-file FILE)",
				ErrTokenKey, s.KeyPath(), feed)
		}
		if err != nil {
			return "", err
		}
		return openToken(key, feed, stored, s.KeyPath())
	}
	sealed, err := s.sealToken(feed, stored)
	if err != nil {
		return "", err
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE feeds SET token = ? WHERE name = ? AND token = ?`, sealed, feed, stored); err != nil {
		return "", fmt.Errorf("encrypt the stored access token of feed %s: %w", feed, err)
	}
	return stored, nil
}

func (s *Store) sealToken(feed, token string) (string, error) {
	key, err := s.tokenKey(true)
	if err != nil {
		return "", err
	}
	return sealToken(key, feed, token)
}

// SaveFeedConfig validates and stores a feed's configuration and token; the
// token is encrypted (see KeyPath).
// Changing the configuration forgets the stored validators, so that the next
// run ingests the dump under the new parameters even if it did not change.
func (s *Store) SaveFeedConfig(ctx context.Context, name string, cfg config.Seclytics) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var token any
	if cfg.Token.IsSet() {
		sealed, err := s.sealToken(name, cfg.Token.Reveal())
		if err != nil {
			return fmt.Errorf("store the access token of feed %s: %w", name, err)
		}
		token = sealed
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
	res, err := s.w.ExecContext(ctx, `UPDATE feeds SET enabled = ?, updated_at = ? WHERE name = ?`, boolInt(enabled), time.Now().Unix(), name)
	if err != nil {
		return fmt.Errorf("enable feed %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("feed %s is not configured: run forewarn config %s --set ... first: %w", name, name, ErrNotFound)
	}
	return nil
}
