package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
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

// writeUpdates writes in.updates, grouped by mask: one statement per
// group, which reads the group's rows through fw_batch.
func (in *sqliteIngest) writeUpdates(ctx context.Context) error {
	if len(in.updates) == 0 {
		return nil
	}
	groups := map[int][]*merge.Stored{}
	for _, u := range in.updates {
		groups[u.mask] = append(groups[u.mask], u.r)
	}
	for mask, rows := range groups {
		stmt, err := in.updateStmt(ctx, mask)
		if err != nil {
			return err
		}
		if err := in.execChunk(ctx, stmt, rows); err != nil {
			return fmt.Errorf("write indicators: %w", err)
		}
	}
	return nil
}

// updateStmt prepares (once) the update that sets the plain columns and
// the indexed groups of mask, of the rows of the chunk bound as its one
// argument; they are named as writeColumns.
func (in *sqliteIngest) updateStmt(ctx context.Context, mask int) (*sql.Stmt, error) {
	if st, ok := in.updateStmts[mask]; ok {
		return st, nil
	}
	q := updateSQL(mask, `(SELECT `+batchAliases+` FROM temp.fw_batch WHERE batch = ?) AS v`)
	st, err := in.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare indicator update: %w", err)
	}
	in.updateStmts[mask] = st
	return st, nil
}

// updateSQL is the update of the rows of from, v, that sets the plain
// columns and the indexed groups of mask.
func updateSQL(mask int, from string) string {
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
	return `UPDATE indicators SET ` + strings.Join(set, ", ") + ` FROM ` + from + ` WHERE indicators.ip = v.ip`
}

// batchAliases are fw_batch's columns named as writeColumns: c0 AS ip, ….
var batchAliases = func() string {
	cols := make([]string, writeCols)
	for i, c := range writeColumns {
		cols[i] = "c" + strconv.Itoa(i) + " AS " + c
	}
	return strings.Join(cols, ", ")
}()

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
