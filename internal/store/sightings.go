package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sighting is an address seen in the owner's logs: how often, first and
// last.
type Sighting struct {
	Addr        netip.Addr
	Count       int64
	First, Last time.Time
}

// sightingChunk is how many sightings one UPDATE carries (4 parameters
// each, well under SQLite's and PostgreSQL's limits).
const sightingChunk = 500

// RecordSightings adds sightings to the indicators they name, in one
// transaction: each indicator's count grows, its first and last sighted
// widen, and, when extends is positive, its last sighting keeps it Active
// until last + extends (an Expired one whose new date lies after now
// becomes Active again). Addresses that are not indicators are left out;
// it returns how many sightings it recorded. The writes are set-based: one
// UPDATE per chunk of sightings, never one per address.
func (s *Store) RecordSightings(ctx context.Context, sightings []Sighting, extends time.Duration, now time.Time) (int64, error) {
	batch := mergeSightings(sightings)
	if len(batch) == 0 {
		return 0, nil
	}
	ext := int64(extends / time.Second)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record sightings: %w", err)
	}
	defer tx.Rollback()
	row := "(?, ?, ?, ?)"
	if s.d == postgresDialect {
		// VALUES in FROM has no column types to infer parameters from.
		row = "(?::bytea, ?::bigint, ?::bigint, ?::bigint)"
	}
	var recorded int64
	for start := 0; start < len(batch); start += sightingChunk {
		chunk := batch[start:min(start+sightingChunk, len(batch))]
		args := []any{ext, ext, ext, ext, ext, now.Unix(), now.Unix()}
		for _, sg := range chunk {
			args = append(args, key(sg.Addr), sg.Count, sg.First.Unix(), sg.Last.Unix())
		}
		// VALUES' columns are column1… on both engines.
		q := `UPDATE indicators SET
			sightings = sightings + v.column2,
			first_sighted = CASE WHEN first_sighted IS NULL OR v.column3 < first_sighted THEN v.column3 ELSE first_sighted END,
			last_sighted = CASE WHEN last_sighted IS NULL OR v.column4 > last_sighted THEN v.column4 ELSE last_sighted END,
			sighted_until = CASE WHEN ? <= 0 THEN sighted_until
				WHEN sighted_until IS NULL OR v.column4 + ? > sighted_until THEN v.column4 + ? ELSE sighted_until END,
			status = CASE WHEN status = 'Expired' AND ? > 0 AND v.column4 + ? > ? THEN 'Active' ELSE status END,
			updated_at = ?
			FROM (VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", ") + `) AS v
			WHERE indicators.ip = v.column1`
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("record sightings: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("record sightings: %w", err)
		}
		recorded += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record sightings: %w", err)
	}
	return recorded, nil
}

// mergeSightings folds the sightings of one address together (an UPDATE
// … FROM matching a row twice would apply only one) and sorts them by
// address.
func mergeSightings(in []Sighting) []Sighting {
	out := make([]Sighting, 0, len(in))
	for _, sg := range in {
		sg.Addr = sg.Addr.Unmap()
		out = append(out, sg)
	}
	slices.SortFunc(out, func(a, b Sighting) int { return a.Addr.Compare(b.Addr) })
	j := 0
	for i := range out {
		if j > 0 && out[j-1].Addr == out[i].Addr {
			p := &out[j-1]
			p.Count += out[i].Count
			if out[i].First.Before(p.First) {
				p.First = out[i].First
			}
			if out[i].Last.After(p.Last) {
				p.Last = out[i].Last
			}
			continue
		}
		out[j] = out[i]
		j++
	}
	return out[:j]
}
