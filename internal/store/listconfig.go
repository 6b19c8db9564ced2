package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"forewarn/internal/secret"
)

// ListFeedConfig is a list feed's stored configuration: its parameter
// values as text (see feeddef.Definition.Settings), a base URL replacing the
// definition's (a mirror; empty: the publisher's), and its secret (a token
// or password, sent as the definition's fetch.auth says).
type ListFeedConfig struct {
	Settings map[string]string `json:"settings,omitempty"`
	BaseURL  string            `json:"base_url,omitempty"`
	// Schedule replaces the definition's default schedule (an interval
	// such as 6h); empty keeps the default.
	Schedule string        `json:"schedule,omitempty"`
	Token    secret.String `json:"-"`
}

// MaxListFeedConfig caps a list feed's stored configuration (JSON).
const MaxListFeedConfig = 64 << 10

// ListFeedConfig returns a list feed's stored configuration and whether it
// is enabled; a feed never configured has the zero configuration, disabled.
func (s *Store) ListFeedConfig(ctx context.Context, name string) (ListFeedConfig, bool, error) {
	var (
		raw     string
		token   sql.NullString
		enabled bool
		cfg     ListFeedConfig
	)
	err := s.r.QueryRowContext(ctx, `SELECT enabled, config, token FROM feeds WHERE name = ?`, name).Scan(&enabled, &raw, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return cfg, false, nil
	}
	if err != nil {
		return cfg, false, fmt.Errorf("read configuration of feed %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return cfg, enabled, fmt.Errorf("stored configuration of feed %s is invalid: %w; fix it with forewarn config %s --set", name, err, name)
	}
	tok, err := s.revealToken(ctx, name, token.String)
	if err != nil {
		return cfg, enabled, err
	}
	cfg.Token = secret.New(tok)
	return cfg, enabled, nil
}

// SaveListFeedConfig stores a list feed's configuration (validated by the
// caller against the feed's definition); the secret is encrypted as
// Seclytics' token is. Changing it forgets the stored validators of the
// feed's last body, so that the next run ingests under the new settings.
func (s *Store) SaveListFeedConfig(ctx context.Context, name string, cfg ListFeedConfig) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("store configuration of feed %s: %w", name, err)
	}
	if len(raw) > MaxListFeedConfig {
		return fmt.Errorf("configuration of feed %s is %d bytes, over %d: shorten its settings", name, len(raw), MaxListFeedConfig)
	}
	var token any
	if cfg.Token.IsSet() {
		sealed, err := s.sealToken(name, cfg.Token.Reveal())
		if err != nil {
			return fmt.Errorf("store the secret of feed %s: %w", name, err)
		}
		token = sealed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store configuration of feed %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO feeds (name, config, token, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET config = excluded.config, token = excluded.token, updated_at = excluded.updated_at`,
		name, string(raw), token, time.Now().Unix()); err != nil {
		return fmt.Errorf("store configuration of feed %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE list_feeds SET etag = NULL, last_modified = NULL, body_sha256 = NULL WHERE feed = ?`, name); err != nil {
		return fmt.Errorf("forget the last body of feed %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store configuration of feed %s: %w", name, err)
	}
	return nil
}
