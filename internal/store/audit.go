package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// AuditEntry is one operation a person performed: who (an API key, or the
// command line), through which edge, what, and on what.
type AuditEntry struct {
	ID     int64
	At     time.Time
	KeyID  int64  // the API key's id; 0 for the command line
	Actor  string // the key's name, or "cli"
	Via    string // "api", "ui" or "cli"
	Action string // e.g. "feed.uninstall"
	Target string // the feed, address, range, key or run
	Detail string
}

// auditFieldMax bounds each text of an audit entry: the entry records an
// operation, it must not become a way to fill the store.
const auditFieldMax = 512

// RecordAudit appends e to the audit log (At set to now if zero). Texts
// longer than 512 bytes are cut.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (at, key_id, actor, via, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.At.Unix(), e.KeyID, cut(e.Actor), cut(e.Via), cut(e.Action), cut(e.Target), cut(e.Detail))
	if err != nil {
		return fmt.Errorf("record %s on %s in the audit log: %w", e.Action, e.Target, err)
	}
	return nil
}

// AuditLog returns the newest limit entries (at most 1000), newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, key_id, actor, via, action, target, detail
		FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.KeyID, &e.Actor, &e.Via, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// cut shortens v to at most auditFieldMax bytes on a rune boundary.
func cut(v string) string {
	if len(v) <= auditFieldMax {
		return v
	}
	v = v[:auditFieldMax]
	for len(v) > 0 && !utf8.ValidString(v) {
		v = v[:len(v)-1]
	}
	return v
}
