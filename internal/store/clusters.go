package store

import (
	"context"
	"fmt"
	"strings"

	"forewarn/internal/merge"
)

// clusterName is the SQL expression that reads an indicator's cluster:
// indicators holds only the id of its name in s_clusters (SQLite migration
// 025, PostgreSQL 020). It is NULL when the indicator has no cluster.
const clusterName = `(SELECT name FROM s_clusters WHERE id = s_cluster_id)`

// clusterIDs gives a run's writes the id of each cluster they store,
// creating the ids of clusters the store has not seen. Only one run writes
// at a time (SQLite's single writer, PostgreSQL's write lock), so it hands
// out ids itself, after the largest stored one.
//
// It remembers the ids it has looked up or created, up to maxClusterIDs of
// them, so that most rows of a run cost a map lookup rather than a query:
// a cluster recurs in about 27 indicators. The bound keeps a 10M-row run's
// memory flat; past it the map starts again.
type clusterIDs struct {
	ids map[string]int64
	// next is the id the next new cluster gets; 0 until read.
	next int64
	// complete is true while ids holds every row of s_clusters (a store
	// with none at the start, and nothing forgotten since): a name it does
	// not hold is then new, with no query to ask.
	complete bool
	missing  []string
	args     []any
}

// maxClusterIDs bounds clusterIDs.ids: 65,536 names of 40 characters take
// about 6 MB.
var maxClusterIDs = 1 << 16

// clusterChunk is how many names one query of resolve carries.
const clusterChunk = 500

// resolve makes sure every cluster of recs has an id in c.ids, reading
// the ids of stored clusters and inserting the new ones.
func (c *clusterIDs) resolve(ctx context.Context, t *tx, recs []*merge.Stored) error {
	if c.ids == nil {
		c.ids = map[string]int64{}
		if err := t.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM s_clusters`).Scan(&c.next); err != nil {
			return fmt.Errorf("read the cluster ids: %w", err)
		}
		c.complete = c.next == 1
	}
	c.missing = c.missing[:0]
	for _, r := range recs {
		if !r.Has.Has(merge.Cluster) {
			continue
		}
		if _, ok := c.ids[r.Cluster]; !ok {
			// Mark it, so that a name repeated in recs is asked once.
			name := strings.Clone(r.Cluster)
			c.ids[name] = 0
			c.missing = append(c.missing, name)
		}
	}
	if len(c.missing) == 0 {
		return nil
	}
	if !c.complete {
		if err := c.readStored(ctx, t); err != nil {
			return err
		}
	}
	if err := c.insertNew(ctx, t); err != nil {
		return err
	}
	if len(c.ids) > maxClusterIDs {
		// Keep this batch's ids, which Write is about to use.
		keep := make(map[string]int64, len(recs))
		for _, r := range recs {
			if r.Has.Has(merge.Cluster) {
				keep[r.Cluster] = c.ids[r.Cluster]
			}
		}
		c.ids, c.complete = keep, false
	}
	return nil
}

// readStored sets the ids of the missing names that s_clusters holds.
func (c *clusterIDs) readStored(ctx context.Context, t *tx) error {
	for start := 0; start < len(c.missing); start += clusterChunk {
		chunk := c.missing[start:min(start+clusterChunk, len(c.missing))]
		c.args = c.args[:0]
		for _, name := range chunk {
			c.args = append(c.args, name)
		}
		rows, err := t.QueryContext(ctx, `SELECT id, name FROM s_clusters WHERE name IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, c.args...)
		if err != nil {
			return fmt.Errorf("read the cluster ids: %w", err)
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return fmt.Errorf("read the cluster ids: %w", err)
			}
			c.ids[name] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the cluster ids: %w", err)
		}
	}
	return nil
}

// insertNew gives the missing names that are still without an id the next
// ids, and stores them.
func (c *clusterIDs) insertNew(ctx context.Context, t *tx) error {
	c.args = c.args[:0]
	flush := func() error {
		if len(c.args) == 0 {
			return nil
		}
		_, err := t.ExecContext(ctx, `INSERT INTO s_clusters (id, name) VALUES (?, ?)`+strings.Repeat(", (?, ?)", len(c.args)/2-1), c.args...)
		c.args = c.args[:0]
		if err != nil {
			return fmt.Errorf("store new clusters: %w", err)
		}
		return nil
	}
	for _, name := range c.missing {
		if c.ids[name] != 0 {
			continue
		}
		c.ids[name] = c.next
		c.args = append(c.args, c.next, name)
		c.next++
		if len(c.args) == 2*clusterChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// value is what s_cluster_id holds for r, once resolve has seen it.
func (c *clusterIDs) value(r *merge.Stored) any {
	if !r.Has.Has(merge.Cluster) {
		return nil
	}
	return c.ids[r.Cluster]
}
