package store

import (
	"context"
	"fmt"
	"strings"
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
	return s.SearchAudit(ctx, AuditQuery{Limit: limit})
}

// AuditQuery selects audit entries. Empty fields select everything.
type AuditQuery struct {
	// Action is an action ("run.cancel"), or a group of them ending in a
	// dot ("run.").
	Action string
	Actor  string
	// Target is an exact target ("seclytics run 12", an address).
	Target string
	// Before continues a listing: entries older than this id.
	Before int64
	// Limit is at most 1000; 0 is 1000.
	Limit int
}

// SearchAudit returns the entries q selects, newest first.
func (s *Store) SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 1000
	}
	var where []string
	var args []any
	switch {
	case strings.HasSuffix(q.Action, "."):
		// A prefix range rather than LIKE: no pattern characters to
		// escape, and the same on both backends.
		where, args = append(where, "action >= ? AND action < ?"), append(args, q.Action, q.Action[:len(q.Action)-1]+"/")
	case q.Action != "":
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	if q.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, q.Actor)
	}
	if q.Target != "" {
		where, args = append(where, "target = ?"), append(args, q.Target)
	}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, key_id, actor, via, action, target, detail
		FROM audit_log`+whereClause(where)+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
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
