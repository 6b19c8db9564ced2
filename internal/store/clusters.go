package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"

	"forewarn/internal/merge"
)

// clusterName is the SQL expression that reads an indicator's cluster:
// indicators holds only the id of its name in s_clusters (SQLite migration
// 025, PostgreSQL 020). It is NULL when the indicator has no cluster.
const clusterName = `(SELECT name FROM s_clusters WHERE id = s_cluster_id)`

// clusterNames hands out cluster names by id to a read of many rows
// (EachActive), which then selects s_cluster_id instead of clusterName:
// the subquery per row was a tenth of a 1M-entry render's CPU, and each
// row's name a string of its own. s_clusters only grows, and an id's
// name never changes, so the names read before the rows serve all of
// them; an id stored since (a run committed in between) is read by key.
type clusterNames struct {
	ctx   context.Context
	db    *db
	names map[int64]string
}

// readClusterNames reads every cluster name the store holds.
func (s *Store) readClusterNames(ctx context.Context) (*clusterNames, error) {
	c := &clusterNames{ctx: ctx, db: s.x, names: map[int64]string{}}
	rows, err := s.x.QueryContext(ctx, `SELECT id, name FROM s_clusters`)
	if err != nil {
		return nil, fmt.Errorf("read the cluster names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			name string
		)
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read the cluster names: %w", err)
		}
		c.names[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the cluster names: %w", err)
	}
	return c, nil
}

// name is the name of cluster id.
func (c *clusterNames) name(id int64) (string, error) {
	if name, ok := c.names[id]; ok {
		return name, nil
	}
	var name string
	if err := c.db.QueryRowContext(c.ctx, `SELECT name FROM s_clusters WHERE id = ?`, id).Scan(&name); err != nil {
		return "", fmt.Errorf("read the name of cluster %d: %w", id, err)
	}
	c.names[id] = name
	return name, nil
}

// clusterIDs gives a run's writes the id of each cluster they store,
// creating the ids of clusters the store has not seen. Only one run writes
// at a time (SQLite's single writer, PostgreSQL's write lock), so it hands
// out ids itself, after the largest stored one, and stores the new names in
// chunks (flush) rather than one statement per batch of rows: a new name
// must be stored before anything of the run reads it back (Load, commit),
// not before the rows that hold its id.
//
// It remembers the ids it has looked up or created, up to maxClusterIDs of
// them, so that most rows of a run cost a map lookup rather than a query:
// a cluster recurs in about 27 indicators. A store with no more clusters
// than that is read whole when the run starts. The bound keeps a 10M-row
// run's memory flat; past it the map starts again. Past it, known keeps
// the 64-bit hash of every stored name (8 bytes a name instead of about
// 100): a name whose hash it does not hold is new and needs no query, so a
// first run of a dump with more clusters than the map holds (165,000 at
// 5M rows) asks the store only about names it has stored. A hash that two
// names share costs a query, never a wrong id.
type clusterIDs struct {
	ids map[string]int64
	// next is the id the next new cluster gets; 0 until read.
	next int64
	// complete is true while ids holds every stored or pending name: a
	// name it does not hold is then new, with no query to ask.
	complete bool
	// known holds the hash of every stored or pending name while complete
	// is false; nil while it is true.
	known   map[uint64]struct{}
	missing []string
	ask     []string
	args    []any
	// pending are the (id, name) pairs of new clusters not yet stored.
	pending []any
	// insertChunk stores clusterChunk of them.
	insertChunk *sql.Stmt
}

// maxClusterIDs bounds clusterIDs.ids: 65,536 names of 40 characters take
// about 6 MB.
var maxClusterIDs = 1 << 16

// clusterChunk is how many names one query of resolve or flush carries.
const clusterChunk = 500

// start reads where ids continue and, when the store holds few enough
// clusters, all of them.
func (c *clusterIDs) start(ctx context.Context, t *tx) error {
	c.ids = map[string]int64{}
	var n int
	if err := t.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1, COUNT(*) FROM s_clusters`).Scan(&c.next, &n); err != nil {
		return fmt.Errorf("read the cluster ids: %w", err)
	}
	if n > maxClusterIDs {
		return c.readKnown(ctx, t, n)
	}
	rows, err := t.QueryContext(ctx, `SELECT id, name FROM s_clusters`)
	if err != nil {
		return fmt.Errorf("read the cluster ids: %w", err)
	}
	if err := c.scan(rows); err != nil {
		return err
	}
	c.complete = true
	return nil
}

// readKnown fills known with the hashes of the store's n names.
func (c *clusterIDs) readKnown(ctx context.Context, t *tx, n int) error {
	c.known = make(map[uint64]struct{}, n)
	rows, err := t.QueryContext(ctx, `SELECT name FROM s_clusters`)
	if err != nil {
		return fmt.Errorf("read the cluster names: %w", err)
	}
	defer rows.Close()
	var name []byte
	for rows.Next() {
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("read the cluster names: %w", err)
		}
		c.known[xxhash.Sum64(name)] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the cluster names: %w", err)
	}
	return nil
}

// scan reads (id, name) rows into ids and closes them.
func (c *clusterIDs) scan(rows *sql.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read the cluster ids: %w", err)
		}
		c.ids[name] = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the cluster ids: %w", err)
	}
	return nil
}

// resolve makes sure every cluster of recs has an id in c.ids, reading
// the ids of stored clusters and giving the new ones theirs.
func (c *clusterIDs) resolve(ctx context.Context, t *tx, recs []*merge.Stored) error {
	if c.ids == nil {
		if err := c.start(ctx, t); err != nil {
			return err
		}
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
	for _, name := range c.missing {
		if c.ids[name] != 0 {
			continue
		}
		c.ids[name] = c.next
		c.pending = append(c.pending, c.next, name)
		c.next++
		if c.known != nil {
			c.known[xxhash.Sum64String(name)] = struct{}{}
		}
	}
	for len(c.pending) >= 2*clusterChunk {
		if err := c.storeChunk(ctx, t); err != nil {
			return err
		}
	}
	if len(c.ids) > maxClusterIDs {
		// What is forgotten is read back from s_clusters: it must be
		// there. Keep this batch's ids, which Write is about to use.
		if err := c.flush(ctx, t); err != nil {
			return err
		}
		if c.known == nil {
			// Complete until now: ids holds every name there is.
			c.known = make(map[uint64]struct{}, 2*len(c.ids))
			for name := range c.ids {
				c.known[xxhash.Sum64String(name)] = struct{}{}
			}
		}
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

// readStored sets the ids of the missing names that s_clusters holds,
// asking only about those whose hash known holds.
func (c *clusterIDs) readStored(ctx context.Context, t *tx) error {
	c.ask = c.ask[:0]
	for _, name := range c.missing {
		if _, ok := c.known[xxhash.Sum64String(name)]; ok {
			c.ask = append(c.ask, name)
		}
	}
	for start := 0; start < len(c.ask); start += clusterChunk {
		chunk := c.ask[start:min(start+clusterChunk, len(c.ask))]
		c.args = c.args[:0]
		for _, name := range chunk {
			c.args = append(c.args, name)
		}
		rows, err := t.QueryContext(ctx, `SELECT id, name FROM s_clusters WHERE name IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, c.args...)
		if err != nil {
			return fmt.Errorf("read the cluster ids: %w", err)
		}
		if err := c.scan(rows); err != nil {
			return err
		}
	}
	return nil
}

// insertClusters is the statement that stores n new clusters.
func insertClusters(n int) string {
	return `INSERT INTO s_clusters (id, name) VALUES (?, ?)` + strings.Repeat(", (?, ?)", n-1)
}

// storeChunk stores the first clusterChunk pending clusters.
func (c *clusterIDs) storeChunk(ctx context.Context, t *tx) error {
	if c.insertChunk == nil {
		st, err := t.PrepareContext(ctx, insertClusters(clusterChunk))
		if err != nil {
			return fmt.Errorf("store new clusters: %w", err)
		}
		c.insertChunk = st
	}
	if _, err := c.insertChunk.ExecContext(ctx, c.pending[:2*clusterChunk]...); err != nil {
		return fmt.Errorf("store new clusters: %w", err)
	}
	c.pending = append(c.pending[:0], c.pending[2*clusterChunk:]...)
	return nil
}

// flush stores every pending cluster.
func (c *clusterIDs) flush(ctx context.Context, t *tx) error {
	for len(c.pending) >= 2*clusterChunk {
		if err := c.storeChunk(ctx, t); err != nil {
			return err
		}
	}
	if len(c.pending) == 0 {
		return nil
	}
	if _, err := t.ExecContext(ctx, insertClusters(len(c.pending)/2), c.pending...); err != nil {
		return fmt.Errorf("store new clusters: %w", err)
	}
	c.pending = c.pending[:0]
	return nil
}

// value is what s_cluster_id holds for r, once resolve has seen it.
func (c *clusterIDs) value(r *merge.Stored) any {
	if !r.Has.Has(merge.Cluster) {
		return nil
	}
	return c.ids[r.Cluster]
}
