package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// SQLite rewrites an index entry of every row an UPDATE (or an upsert's DO
// UPDATE) sets a column of that index in, or a column of its WHERE clause,
// whether the value changed or not: rewriting a changed row with every
// column costs it the six secondary indexes of indicators, seven times the
// row itself (measured on a 1M-row store). So a row Load read is written
// back with an UPDATE that sets the indexed columns only where their
// values differ from the ones read.

// indexedCols are the groups of indicators' columns that secondary indexes
// cover or filter on, one bit each in an update's mask; a group is set
// together.
var indexedCols = [...][]string{
	{"status"},
	{"confidence"},
	{"updated_at"},
	{"expires_at"},
	{"s_importance"},
	{"s_cluster_id"},
	{"s_predicted_category", "s_predicted_at"},
}

const (
	setStatus = 1 << iota
	setConfidence
	setUpdatedAt
	setExpiresAt
	setImportance
	setCluster
	setPredicted
)

// plainCols are the columns an update always sets: no index covers them.
var plainCols = []string{"s_predicted_netblock", "s_detected_by", "s_detected_identifiers", "s_detected_categories",
	"s_detected_at", "s_last_seen_at", "s_normalized_importance", "s_attr_runs", "s_hash", "s_lookup_netblock",
	"s_seen_at", "s_listed"}

// loadedRow is what Load read of a row's indexed columns.
type loadedRow struct {
	status               indicator.Status
	sListed              bool
	updatedAt, expiresAt int64
	has                  merge.Set // of Importance, Cluster, PredictedCategory and PredictedAt
	importance           float64
	cluster, category    string
	predictedAt          int64
}

// indexedSlots are the attributes whose columns an index covers.
var indexedSlots = merge.Set(0).With(merge.Importance).With(merge.Cluster).With(merge.PredictedCategory).With(merge.PredictedAt)

func loadedOf(st *merge.Stored) loadedRow {
	return loadedRow{status: st.Status, sListed: st.SListed, updatedAt: st.UpdatedAt, expiresAt: st.ExpiresAt,
		has: st.Has & indexedSlots, importance: st.Importance, cluster: st.Cluster, category: st.PredictedCategory,
		predictedAt: st.PredictedAt}
}

// updateMask returns the groups of indexedCols whose values writing r
// changes from old, as appendRow and the upsert would write them.
func updateMask(old loadedRow, r *merge.Stored) int {
	now := loadedOf(r)
	now.sListed = r.Status != indicator.StatusExpired
	mask := 0
	// An Expired status is set again: the upsert keeps a listed indicator
	// Active, which depends on the stored listings.
	if now.status != old.status || now.status == indicator.StatusExpired {
		mask |= setStatus
	}
	// The confidence is a function of s_listed and l_miss, and a
	// Seclytics write changes only s_listed.
	if now.sListed != old.sListed {
		mask |= setConfidence
	}
	if now.updatedAt != old.updatedAt {
		mask |= setUpdatedAt
	}
	if now.expiresAt != old.expiresAt {
		mask |= setExpiresAt
	}
	changed := func(s merge.Slot, same bool) bool {
		return now.has.Has(s) != old.has.Has(s) || now.has.Has(s) && !same
	}
	if changed(merge.Importance, now.importance == old.importance) {
		mask |= setImportance
	}
	if changed(merge.Cluster, now.cluster == old.cluster) {
		mask |= setCluster
	}
	if changed(merge.PredictedCategory, now.category == old.category) || changed(merge.PredictedAt, now.predictedAt == old.predictedAt) {
		mask |= setPredicted
	}
	return mask
}

// rememberLoaded records the indexed columns of a row Load read, for
// Write. Only SQLite keeps them (loaded is nil on PostgreSQL).
func (in *ingest) rememberLoaded(st *merge.Stored) {
	if in.loaded != nil {
		in.loaded[st.Addr] = loadedOf(st)
	}
}

// pendingUpdate is a row to write back with an update, and its mask.
type pendingUpdate struct {
	r    *merge.Stored
	mask int
}

// splitLoaded moves the members of batch that Load read, and that nothing
// wrote since, to in.updates; it returns the rest, to upsert. Each loaded
// row is written back once that way: a second write of it upserts.
func (in *sqliteIngest) splitLoaded(batch []*merge.Stored) []*merge.Stored {
	in.updates = in.updates[:0]
	in.upserts = in.upserts[:0]
	for _, r := range batch {
		old, ok := in.loaded[r.Addr]
		if !ok || !r.Exists || r.New {
			in.upserts = append(in.upserts, r)
			continue
		}
		delete(in.loaded, r.Addr)
		in.updates = append(in.updates, pendingUpdate{r: r, mask: updateMask(old, r)})
	}
	return in.upserts
}

// updateChunks are the row counts of prepared updates: a group of rows
// with the same mask is written in chunks of these sizes, so that few
// statements are prepared.
var updateChunks = [...]int{64, 16, 4, 1}

// writeUpdates writes in.updates, grouped by mask.
func (in *sqliteIngest) writeUpdates(ctx context.Context) error {
	groups := map[int][]*merge.Stored{}
	for _, u := range in.updates {
		groups[u.mask] = append(groups[u.mask], u.r)
	}
	for mask, rows := range groups {
		for len(rows) > 0 {
			n := updateChunks[len(updateChunks)-1]
			for _, c := range updateChunks {
				if c <= len(rows) {
					n = c
					break
				}
			}
			stmt, err := in.updateStmt(ctx, mask, n)
			if err != nil {
				return err
			}
			in.args = in.args[:0]
			for _, r := range rows[:n] {
				in.args = appendRow(in.args, r, in.clusters.value(r))
			}
			if _, err := stmt.ExecContext(ctx, in.args...); err != nil {
				return fmt.Errorf("write indicators: %w", err)
			}
			rows = rows[n:]
		}
	}
	return nil
}

// updateStmt prepares (once) the update of n rows that sets the plain
// columns and the indexed groups of mask. Its rows are bound as appendRow
// gives them, and named as writeStmt's columns.
func (in *sqliteIngest) updateStmt(ctx context.Context, mask, n int) (*sql.Stmt, error) {
	k := mask<<8 | n
	if st, ok := in.updateStmts[k]; ok {
		return st, nil
	}
	set := make([]string, 0, len(plainCols)+8)
	for _, c := range plainCols {
		set = append(set, c+" = v."+c)
	}
	for bit, cols := range indexedCols {
		if mask&(1<<bit) == 0 {
			continue
		}
		for _, c := range cols {
			set = append(set, c+" = "+strings.ReplaceAll(seclyticsUpdate(sqliteDialect, c), "excluded.", "v."))
		}
	}
	one := "(?" + strings.Repeat(",?", writeCols-1) + ")"
	q := `WITH v(` + strings.Join(writeColumns, ", ") + `) AS (VALUES ` + one + strings.Repeat(","+one, n-1) + `)
		UPDATE indicators SET ` + strings.Join(set, ", ") + ` FROM v WHERE indicators.ip = v.ip`
	st, err := in.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare indicator update: %w", err)
	}
	in.updateStmts[k] = st
	return st, nil
}

// loadedRows is the map Load fills on SQLite, keyed by address.
type loadedRows = map[netip.Addr]loadedRow

// The statements below change stored rows behind Load's back: what it read
// of them is forgotten, so that a row written after one of them is upserted
// with every column.

// ExpireDue is ingest.ExpireDue; see above.
func (in *sqliteIngest) ExpireDue(ctx context.Context, now time.Time) (int64, error) {
	clear(in.loaded)
	return in.ingest.ExpireDue(ctx, now)
}

// Whitelist is ingest.Whitelist; see above.
func (in *sqliteIngest) Whitelist(ctx context.Context, ranges []netip.Prefix, now time.Time) (int64, error) {
	clear(in.loaded)
	return in.ingest.Whitelist(ctx, ranges, now)
}

// ApplyAgeOut is ingest.ApplyAgeOut; see above.
func (in *sqliteIngest) ApplyAgeOut(ctx context.Context, feed string, ageOut int64) error {
	clear(in.loaded)
	return in.ingest.ApplyAgeOut(ctx, feed, ageOut)
}
