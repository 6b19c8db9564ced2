package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"forewarn/internal/config"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// BatchSize is how many indicators Load reads per statement, and a feed
// run hands Load and Write at a time.
const BatchSize = 256

// listSep joins list values in one column.
const listSep = "\x1f"

// Tx is a feed run's write transaction, as every backend offers it.
type Tx interface {
	// Load fills each of recs (whose Addr is set) with what the store
	// holds for that address; Exists says whether it holds anything.
	Load(ctx context.Context, recs []*merge.Stored) error
	// Write upserts indicators with their Seclytics attributes.
	Write(ctx context.Context, recs []*merge.Stored) error
	// ApplyAgeOut makes the stored expiries follow feed's age_out (seconds,
	// 0 = never): if it differs from the one they were computed with, every
	// indicator's expires_at is recomputed from its own dates. Call it
	// before Write, so that rows written and recomputed agree.
	ApplyAgeOut(ctx context.Context, feed string, ageOut int64) error
	// ExpireDue marks Active indicators whose expiry is at or before now
	// as Expired and returns how many.
	ExpireDue(ctx context.Context, now time.Time) (int64, error)
	// Whitelist marks every indicator in the given ranges Whitelisted and
	// returns how many changed.
	Whitelist(ctx context.Context, ranges []netip.Prefix, now time.Time) (int64, error)
	// SaveFeedState records the watermark and validators of the run.
	SaveFeedState(ctx context.Context, name string, st FeedState) error
	Commit() error
	// Rollback discards everything; it is safe after Commit.
	Rollback() error
}

// BeginIngest starts a feed run's write transaction: nothing it writes is
// visible to readers until Commit; Rollback (or a crash) leaves the store
// as it was. On SQLite it waits for other writers up to the busy timeout.
func (s *Store) BeginIngest(ctx context.Context) (Tx, error) {
	if s.d == postgresDialect {
		return beginPostgresIngest(ctx, s.w)
	}
	return beginSQLiteIngest(ctx, s.w, s.batches)
}

// ingest is what both backends' runs share: the transaction, the reads
// Load makes, the feed state and the count of created indicators. Each
// backend's type embeds it and adds how it writes (sqliteIngest here,
// pgIngest in pgingest.go).
type ingest struct {
	tx    *tx
	empty bool
	loads map[int]*sql.Stmt
	// rangeStmt reads the indicators between two keys, in key order.
	rangeStmt *sql.Stmt
	probeStmt *sql.Stmt
	scratch   merge.Stored
	done      bool
	// created counts the indicators Write inserted, for store_counts.
	created int64
	// deferred are the CREATE statements of the secondary indexes of
	// indicators dropped for a first ingest (SQLite), to run again
	// before anything reads through them and at the latest at commit.
	deferred []string
	// loaded holds the indexed columns of the rows Load read, until
	// Write writes them back (SQLite only: see ingestupdate.go).
	loaded loadedRows
	// clusters are the ids of the clusters Write stores.
	clusters clusterIDs
}

// sqliteIngest writes as it goes: each batch is one upsert of the rows
// fw_batch reads from memory (batchvtab.go).
type sqliteIngest struct {
	ingest
	// chunks hold the rows of the statement running, for fw_batch.
	chunks *batchChunks
	// upsertStmt is Write's upsert of a chunk.
	upsertStmt *sql.Stmt
	args       []any
	// updateStmts, updates and upserts are Write's for the rows Load
	// read (ingestupdate.go).
	updateStmts map[int]*sql.Stmt
	updates     []pendingUpdate
	upserts     []*merge.Stored
}

var (
	_ Tx = (*sqliteIngest)(nil)
	_ Tx = (*pgIngest)(nil)
)

func beginSQLiteIngest(ctx context.Context, w *db, chunks *batchChunks) (*sqliteIngest, error) {
	t, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	in := &sqliteIngest{ingest: ingest{tx: t, loaded: loadedRows{}}, chunks: chunks, updateStmts: map[int]*sql.Stmt{}}
	if err := in.prepare(ctx); err != nil {
		t.Rollback()
		return nil, err
	}
	if err := in.prepareUpsert(ctx); err != nil {
		t.Rollback()
		return nil, err
	}
	if in.empty {
		if err := in.deferIndexes(ctx); err != nil {
			t.Rollback()
			return nil, err
		}
	}
	return in, nil
}

// deferIndexes drops the secondary indexes of indicators for a first
// ingest into an empty store, inside the run's transaction:
// building each index once from the written table (restoreIndexes) costs
// less than updating it row by row. A rollback or a crash brings them back
// with the rest. Readers are not affected: SQLite's WAL lets them keep
// reading the committed schema. PostgreSQL does not do this, because there
// DROP INDEX would block every reader of the table until the commit.
func (in *ingest) deferIndexes(ctx context.Context) error {
	rows, err := in.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = 'indicators' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
		ORDER BY name`)
	if err != nil {
		return fmt.Errorf("begin ingest: read the indexes: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return fmt.Errorf("begin ingest: read the indexes: %w", err)
		}
		names, in.deferred = append(names, name), append(in.deferred, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("begin ingest: read the indexes: %w", err)
	}
	for _, name := range names {
		if _, err := in.tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return fmt.Errorf("begin ingest: drop index %s until the rows are written: %w", name, err)
		}
	}
	return nil
}

// restoreIndexes builds the indexes deferIndexes dropped. SQLite sorts
// an index's entries in as much memory as the page cache may hold, which
// would add that much to the run's peak on top of the cache itself: the
// cache is shrunk while they are built.
func (in *ingest) restoreIndexes(ctx context.Context) error {
	if len(in.deferred) == 0 {
		return nil
	}
	var cache int64
	if err := in.tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return fmt.Errorf("build index after the first ingest: %w", err)
	}
	if _, err := in.tx.ExecContext(ctx, `PRAGMA cache_size = -16384`); err != nil {
		return fmt.Errorf("build index after the first ingest: %w", err)
	}
	defer in.tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
	for len(in.deferred) > 0 {
		if _, err := in.tx.ExecContext(ctx, in.deferred[0]); err != nil {
			return fmt.Errorf("build index after the first ingest: %w", err)
		}
		in.deferred = in.deferred[1:]
	}
	return nil
}

// prepare reads whether the store is empty and prepares Load's statements.
func (in *ingest) prepare(ctx context.Context) error {
	in.loads = map[int]*sql.Stmt{}
	var any int
	if err := in.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM indicators LIMIT 1) AS one`).Scan(&any); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	in.empty = any == 0
	var err error
	if in.rangeStmt, err = in.tx.PrepareContext(ctx, selectStored+` WHERE ip BETWEEN ? AND ? AND `+hostKeys+` ORDER BY ip LIMIT ?`); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	if in.probeStmt, err = in.tx.PrepareContext(ctx, `SELECT ip, status, s_hash, expires_at FROM indicators WHERE ip BETWEEN ? AND ? AND `+hostKeys+` ORDER BY ip LIMIT ?`); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	return nil
}

// commit counts the created indicators and commits.
func (in *ingest) commit() error {
	in.done = true
	if err := in.clusters.flush(context.Background(), in.tx); err != nil {
		in.tx.Rollback()
		return fmt.Errorf("commit ingest: %w", err)
	}
	// Before the indexes are built: the renewed rows' generation goes
	// into indicators_renewed once.
	if in.created > 0 {
		if err := applyTombstones(context.Background(), in.tx); err != nil {
			in.tx.Rollback()
			return fmt.Errorf("commit ingest: %w", err)
		}
	}
	if err := in.restoreIndexes(context.Background()); err != nil {
		in.tx.Rollback()
		return fmt.Errorf("commit ingest: %w", err)
	}
	if err := addCount(context.Background(), in.tx, "indicators", in.created); err != nil {
		in.tx.Rollback()
		return fmt.Errorf("commit ingest: %w", err)
	}
	if err := in.tx.Commit(); err != nil {
		return fmt.Errorf("commit ingest: %w", err)
	}
	return nil
}

// rollback discards the run's writes; it does nothing after commit.
func (in *ingest) rollback() error {
	if in.done {
		return nil
	}
	in.done = true
	if err := in.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back ingest: %w", err)
	}
	return nil
}

// Commit makes the run's writes visible, all at once.
func (in *sqliteIngest) Commit() error { return in.commit() }

// Rollback discards the run's writes. It is safe to call after Commit.
func (in *sqliteIngest) Rollback() error { return in.rollback() }

// SaveFeedState records, in the run's transaction, the watermark and the
// validators of the dump the run ingested.
func (in *ingest) SaveFeedState(ctx context.Context, name string, st FeedState) error {
	// A feed run from the command line before any configuration was
	// stored still needs a row for its watermark.
	if _, err := in.tx.ExecContext(ctx, `INSERT INTO feeds (name, config, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, string(defaultConfig()), time.Now().Unix()); err != nil {
		return fmt.Errorf("record state of feed %s: %w", name, err)
	}
	_, err := in.tx.ExecContext(ctx, `UPDATE feeds SET watermark = ?, etag = ?, last_modified = ?, body_sha256 = ?, fingerprint = ?
		WHERE name = ?`, st.Watermark, nullString(st.ETag), nullString(st.LastModified), nullString(st.BodySHA256),
		nullString(st.Fingerprint), name)
	if err != nil {
		return fmt.Errorf("record state of feed %s: %w", name, err)
	}
	return nil
}

// storedColumns are the columns scanStored reads, in its order.
const storedColumns = `ip, status, created_at, updated_at, s_predicted_at, s_predicted_netblock,
	s_predicted_category, ` + clusterName + `, s_detected_by, s_detected_identifiers, s_detected_categories, s_detected_at,
	s_last_seen_at, s_importance, s_normalized_importance, s_attr_runs, s_hash, s_lookup_netblock,
	s_seen_at, expires_at, sightings, first_sighted, last_sighted, sighted_until, s_listed, confidence, l_feeds, l_sources, generation,
	renewed_at`

// numStoredColumns is how many columns storedColumns names.
const numStoredColumns = 30

// storedColumnNames are the columns of storedColumns, one by one.
var storedColumnNames = func() []string {
	cols := strings.Split(storedColumns, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	if len(cols) != numStoredColumns {
		panic("store: numStoredColumns is not the number of storedColumns")
	}
	return cols
}()

// clusterColumn and lookupNBColumn are the cluster's and the lookup
// netblock's indexes in storedColumns.
var (
	clusterColumn  = slices.Index(storedColumnNames, clusterName)
	lookupNBColumn = slices.Index(storedColumnNames, "s_lookup_netblock")
)

const selectStored = `SELECT ` + storedColumns + `
	FROM indicators`

// Load fills each of recs (whose Addr is set) with what
// the store holds for that address; Exists says whether it holds anything.
//
// Members with a NewHash are first probed: if the stored hash says the same
// record was merged before, the member is marked Unchanged and its row is
// not decoded. The rest of a batch is read as one key range, which is a
// sequential scan when the batch is dense in the store (a full re-run); the
// scan is capped at rangeFactor times the batch, and whatever it did not
// reach is looked up by key, so a sparse batch (an incremental run) costs
// little more.
func (in *ingest) Load(ctx context.Context, recs []*merge.Stored) error {
	for _, r := range recs {
		r.Exists, r.Unchanged = false, false
	}
	clear(in.loaded)
	if in.empty || len(recs) == 0 {
		return nil
	}
	// The rows read name their clusters from s_clusters.
	if err := in.clusters.flush(ctx, in.tx); err != nil {
		return fmt.Errorf("load indicators: %w", err)
	}
	for start := 0; start < len(recs); start += BatchSize {
		batch := recs[start:min(start+BatchSize, len(recs))]
		need, err := in.probe(ctx, batch)
		if err != nil {
			return err
		}
		if len(need) == 0 {
			continue
		}
		if len(need)*rangeFactor < len(batch) {
			// Few left in a batch the store holds densely: by key.
			if err := in.loadByKey(ctx, byAddr(need), need); err != nil {
				return err
			}
			continue
		}
		if err := in.loadRange(ctx, need); err != nil {
			return err
		}
	}
	return nil
}

func byAddr(recs []*merge.Stored) map[netip.Addr]*merge.Stored {
	m := make(map[netip.Addr]*merge.Stored, len(recs))
	for _, r := range recs {
		m[r.Addr] = r
	}
	return m
}

// probe reads only (ip, status, hash) of a batch's key range and marks the
// members whose stored hash equals their NewHash as Unchanged, so that
// their full rows are never decoded. It returns the members still to load.
func (in *ingest) probe(ctx context.Context, batch []*merge.Stored) ([]*merge.Stored, error) {
	want := false
	for _, r := range batch {
		want = want || r.NewHash != 0
	}
	if !want {
		return batch, nil
	}
	m := byAddr(batch)
	lo, hi := keyRange(batch)
	rows, err := in.probeStmt.QueryContext(ctx, lo, hi, rangeFactor*len(batch))
	if err != nil {
		return nil, fmt.Errorf("probe indicators: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ip      []byte
			status  string
			hash    sql.NullInt64
			expires sql.NullInt64
		)
		if err := rows.Scan(&ip, &status, &hash, &expires); err != nil {
			return nil, fmt.Errorf("probe indicators: %w", err)
		}
		a, err := addrFromKey(ip)
		if err != nil {
			return nil, err
		}
		r := m[a]
		if r == nil {
			continue
		}
		probe := merge.Stored{Exists: true, Status: indicator.Status(status), Hash: uint64(hash.Int64), ExpiresAt: expires.Int64}
		if probe.CanSkip(r.NewHash, r.NewLifecycle) {
			r.Exists, r.Status, r.Hash, r.Unchanged = true, probe.Status, probe.Hash, true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("probe indicators: %w", err)
	}
	var need []*merge.Stored
	for _, r := range batch {
		if !r.Unchanged {
			need = append(need, r)
		}
	}
	return need, nil
}

func keyRange(batch []*merge.Stored) (lo, hi []byte) {
	lo, hi = key(batch[0].Addr), key(batch[0].Addr)
	for _, r := range batch {
		if k := key(r.Addr); string(k) < string(lo) {
			lo = k
		} else if string(k) > string(hi) {
			hi = k
		}
	}
	return lo, hi
}

// loadRange reads a batch as one key range, capped at rangeFactor rows per
// member, and looks up by key whatever the capped scan did not reach.
func (in *ingest) loadRange(ctx context.Context, batch []*merge.Stored) error {
	m := byAddr(batch)
	lo, hi := keyRange(batch)
	limit := rangeFactor * len(batch)
	n, lastKey, err := in.loadRows(ctx, m, in.rangeStmt, []any{lo, hi, limit})
	if err != nil || n < limit {
		return err
	}
	var rest []*merge.Stored
	for _, r := range batch {
		if !r.Exists && string(key(r.Addr)) > string(lastKey) {
			rest = append(rest, r)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return in.loadByKey(ctx, m, rest)
}

// loadByKey looks the given members up by key.
func (in *ingest) loadByKey(ctx context.Context, m map[netip.Addr]*merge.Stored, recs []*merge.Stored) error {
	stmt, err := in.inStmt(ctx, len(recs))
	if err != nil {
		return err
	}
	args := make([]any, 0, len(recs))
	for _, r := range recs {
		args = append(args, key(r.Addr))
	}
	_, _, err = in.loadRows(ctx, m, stmt, args)
	return err
}

// rangeFactor caps a batch's range scan at this many rows per address.
const rangeFactor = 4

// loadRows runs a query of selectStored and fills the members of byAddr it
// finds. It returns how many rows it read and the last key.
func (in *ingest) loadRows(ctx context.Context, byAddr map[netip.Addr]*merge.Stored, stmt *sql.Stmt, args []any) (int, []byte, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("load indicators: %w", err)
	}
	defer rows.Close()
	n := 0
	var last netip.Addr
	for rows.Next() {
		r := &in.scratch
		if err := scanStored(rows, r); err != nil {
			return n, nil, err
		}
		n++
		last = r.Addr
		if dst := byAddr[r.Addr]; dst != nil {
			*dst = *r
			in.scratch = merge.Stored{}
			in.rememberLoaded(dst)
		}
	}
	if err := rows.Err(); err != nil {
		return n, nil, fmt.Errorf("load indicators: %w", err)
	}
	if n == 0 {
		return 0, nil, nil
	}
	return n, key(last), nil
}

func (in *ingest) inStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	if stmt, ok := in.loads[n]; ok {
		return stmt, nil
	}
	stmt, err := in.tx.PrepareContext(ctx, selectStored+` WHERE ip IN (?`+strings.Repeat(",?", n-1)+`)`)
	if err != nil {
		return nil, fmt.Errorf("load indicators: %w", err)
	}
	in.loads[n] = stmt
	return stmt, nil
}

// writeCols is the number of columns Write sets per indicator.
const writeCols = 22

// writeChunk is how many rows one statement of Write carries at most: a
// feed run hands it BatchSize at a time.
const writeChunk = 2048

// Write upserts the given indicators with their Seclytics attributes: each
// chunk is one statement, which reads the rows from memory through
// fw_batch, so either all of a chunk is written or, if the statement
// fails, none of it.
func (in *sqliteIngest) Write(ctx context.Context, recs []*merge.Stored) error {
	if err := in.clusters.resolve(ctx, in.tx, recs); err != nil {
		return fmt.Errorf("write indicators: %w", err)
	}
	for start := 0; start < len(recs); start += writeChunk {
		batch := in.splitLoaded(recs[start:min(start+writeChunk, len(recs))])
		if err := in.writeUpdates(ctx); err != nil {
			return err
		}
		if len(batch) == 0 {
			continue
		}
		if err := in.execChunk(ctx, in.upsertStmt, batch); err != nil {
			return fmt.Errorf("write indicators: %w", err)
		}
		for _, r := range batch {
			if creates(r) {
				in.created++
			}
		}
	}
	return nil
}

// execChunk runs stmt, which reads fw_batch WHERE batch = ?, over rows.
func (in *sqliteIngest) execChunk(ctx context.Context, stmt *sql.Stmt, rows []*merge.Stored) error {
	id := in.chunks.put(rows, &in.clusters)
	defer in.chunks.release(id)
	_, err := stmt.ExecContext(ctx, id)
	return err
}

// sqliteUpsert is what a Seclytics write does to a row its address
// already has, on SQLite.
var sqliteUpsert = `ON CONFLICT (ip) DO UPDATE SET status = ` + seclyticsUpdate(sqliteDialect, "status") + `, updated_at = excluded.updated_at,
		s_predicted_at = excluded.s_predicted_at, s_predicted_netblock = excluded.s_predicted_netblock,
		s_predicted_category = excluded.s_predicted_category, s_cluster_id = excluded.s_cluster_id,
		s_detected_by = excluded.s_detected_by, s_detected_identifiers = excluded.s_detected_identifiers,
		s_detected_categories = excluded.s_detected_categories, s_detected_at = excluded.s_detected_at,
		s_last_seen_at = excluded.s_last_seen_at, s_importance = excluded.s_importance,
		s_normalized_importance = excluded.s_normalized_importance, s_attr_runs = excluded.s_attr_runs,
		s_hash = excluded.s_hash, s_lookup_netblock = excluded.s_lookup_netblock,
		s_seen_at = excluded.s_seen_at, expires_at = excluded.expires_at,
		s_listed = excluded.s_listed, confidence = ` + seclyticsUpdate(sqliteDialect, "confidence")

// upsertSQL is Write's upsert of the chunk bound as its one argument.
var upsertSQL = `INSERT INTO indicators (` + strings.Join(writeColumns, ", ") + `)
		SELECT ` + batchColumns + ` FROM temp.fw_batch WHERE batch = ?
		` + sqliteUpsert

// prepareUpsert gives the writer connection its fw_batch and prepares
// Write's upsert.
func (in *sqliteIngest) prepareUpsert(ctx context.Context) error {
	if _, err := in.tx.ExecContext(ctx, createBatchTable(in.chunks)); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	var err error
	if in.upsertStmt, err = in.tx.PrepareContext(ctx, upsertSQL); err != nil {
		return fmt.Errorf("begin ingest: prepare indicator write: %w", err)
	}
	return nil
}

// key is the stored form of an address: 16 bytes, IPv4 mapped into IPv6.
func key(a netip.Addr) []byte {
	b := a.As16()
	return b[:]
}

func addrFromKey(b []byte) (netip.Addr, error) {
	if len(b) != 16 {
		return netip.Addr{}, fmt.Errorf("stored address has %d bytes, want 16", len(b))
	}
	return netip.AddrFrom16([16]byte(b)).Unmap(), nil
}

// appendRow appends the columns of one indicator, in writeStmt's order;
// cluster is the id of its cluster (clusterIDs.value).
func appendRow(args []any, r *merge.Stored, cluster any) []any {
	has := r.Has.Has
	opt := func(s merge.Slot, v any) any {
		if has(s) {
			return v
		}
		return nil
	}
	list := func(s merge.Slot, v []string) any {
		if !has(s) || len(v) == 0 {
			return nil
		}
		return strings.Join(v, listSep)
	}
	// Seclytics lists the indicator while its own lifecycle has not
	// expired it; a new row's confidence is Seclytics' alone (an existing
	// one combines it with the list feeds', see seclyticsUpdate).
	sListed, sConfidence := int64(0), any(nil)
	if r.Status != indicator.StatusExpired {
		sListed, sConfidence = 1, int64(SeclyticsConfidence)
	}
	var nb any
	if has(merge.PredictedNetblock) {
		nb = predictedNetblockText(r)
	}
	return append(args, key(r.Addr), string(r.Status), r.CreatedAt, r.UpdatedAt,
		opt(merge.PredictedAt, r.PredictedAt), nb,
		opt(merge.PredictedCategory, r.PredictedCategory), cluster,
		list(merge.DetectedBy, r.DetectedBy), list(merge.DetectedIdentifiers, r.DetectedIdentifiers),
		list(merge.DetectedCategories, r.DetectedCategories),
		opt(merge.DetectedAt, r.DetectedAt), opt(merge.LastSeenAt, r.LastSeenAt),
		opt(merge.Importance, r.Importance), opt(merge.NormalizedImportance, r.Normalized),
		packRuns(r), int64(r.Hash), netblockBlob(r.LookupNetblock), zeroNull(r.SeenAt), zeroNull(r.ExpiresAt),
		sListed, sConfidence)
}

// sameNetblock is what s_predicted_netblock holds when the Predicted
// Netblock attribute is the row's lookup netblock, as it nearly always is:
// the empty string, which scanStored reads back from s_lookup_netblock,
// instead of a second copy of the netblock as text (about 15 bytes per
// indicator). It is not NULL, so the attribute's presence still shows.
const sameNetblock = ""

// predictedNetblockText is s_predicted_netblock for r, whose Predicted
// Netblock attribute is present.
func predictedNetblockText(r *merge.Stored) string {
	p := r.PredictedNetblock
	// Only a prefix that s_lookup_netblock gives back exactly: masked, and
	// not an IPv4-mapped IPv6 address, which parseNetblock may unmap.
	if p.IsValid() && p == r.LookupNetblock && p == p.Masked() && !p.Addr().Is4In6() {
		return sameNetblock
	}
	return p.String()
}

// zeroNull stores 0 as NULL.
func zeroNull(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// netblockLen is the size of a stored lookup netblock.
const netblockLen = 17

// netblockBlob encodes a netblock as s_lookup_netblock stores it: the
// masked address in 16-byte form, then the length in that 128-bit space
// (IPv4 lengths plus 96). It returns nil (NULL) for an invalid prefix.
func netblockBlob(p netip.Prefix) any {
	if !p.IsValid() {
		return nil
	}
	p = p.Masked()
	b := make([]byte, 0, netblockLen)
	a := p.Addr().As16()
	b = append(b, a[:]...)
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	return append(b, byte(bits))
}

// parseNetblock decodes a stored lookup netblock. The IPv4-mapped range is
// read back as IPv4: prediction canonicalises netblocks that way, so no
// stored netblock is an IPv4-mapped IPv6 prefix of 96 bits or more.
func parseNetblock(b []byte) (netip.Prefix, error) {
	if len(b) != netblockLen || b[16] > 128 {
		return netip.Prefix{}, fmt.Errorf("stored lookup netblock is malformed (%d bytes)", len(b))
	}
	a, bits := netip.AddrFrom16([16]byte(b[:16])), int(b[16])
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits), nil
}

// packRuns packs the created and updated run ids of each present slot.
//
// Two layouts share s_attr_runs, told apart by length. The full one is
// two uvarints per present slot (created, updated), so at least two bytes
// per slot. When every present slot was created in one run and updated in
// one run, as after a first ingest or a re-run that changed nothing but
// whole rows, the short one is just those two runs: created, then updated
// only if it differs. It is written only when it is shorter than two bytes
// per slot, which is what tells it apart on reading: it saves about 18
// bytes per indicator on a keep-everything store.
func packRuns(r *merge.Stored) []byte {
	slots := 0
	uniform := true
	var created, updated int64
	for s := merge.Slot(0); s < merge.NumSlots; s++ {
		if !r.Has.Has(s) {
			continue
		}
		if slots == 0 {
			created, updated = r.Created[s], r.Updated[s]
		}
		uniform = uniform && r.Created[s] == created && r.Updated[s] == updated
		slots++
	}
	if uniform && slots > 0 {
		b := binary.AppendUvarint(make([]byte, 0, 2*binary.MaxVarintLen64), uint64(created))
		if updated != created {
			b = binary.AppendUvarint(b, uint64(updated))
		}
		if len(b) < 2*slots {
			return b
		}
	}
	b := make([]byte, 0, 4*slots)
	for s := merge.Slot(0); s < merge.NumSlots; s++ {
		if r.Has.Has(s) {
			b = binary.AppendUvarint(b, uint64(r.Created[s]))
			b = binary.AppendUvarint(b, uint64(r.Updated[s]))
		}
	}
	return b
}

// unpackRuns reads either layout of packRuns into r, whose Has is set.
func unpackRuns(b []byte, r *merge.Stored) error {
	slots := 0
	for s := merge.Slot(0); s < merge.NumSlots; s++ {
		if r.Has.Has(s) {
			slots++
		}
	}
	if slots > 0 && len(b) < 2*slots {
		return unpackUniformRuns(b, r)
	}
	for s := merge.Slot(0); s < merge.NumSlots; s++ {
		if !r.Has.Has(s) {
			continue
		}
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("stored attribute runs are truncated")
		}
		u, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return errors.New("stored attribute runs are truncated")
		}
		r.Created[s], r.Updated[s] = int64(c), int64(u)
		b = b[n+m:]
	}
	return nil
}

// unpackUniformRuns reads packRuns' short layout: one created run, then
// the updated run if it differs.
func unpackUniformRuns(b []byte, r *merge.Stored) error {
	c, n := binary.Uvarint(b)
	if n <= 0 {
		return errors.New("stored attribute runs are truncated")
	}
	u := c
	if n < len(b) {
		var m int
		if u, m = binary.Uvarint(b[n:]); m <= 0 || n+m != len(b) {
			return errors.New("stored attribute runs are malformed")
		}
	}
	for s := merge.Slot(0); s < merge.NumSlots; s++ {
		if r.Has.Has(s) {
			r.Created[s], r.Updated[s] = int64(c), int64(u)
		}
	}
	return nil
}

// scanStored reads one row of selectStored into st.
func scanStored(sc scanner, st *merge.Stored) error {
	var r storedRow
	return r.scan(sc, st)
}

// storedRow is what scan reads a row of storedColumns into. Reused from
// row to row, it saves a read of many rows the allocations of its Scan
// destinations (which escape), a score per row.
type storedRow struct {
	// noRuns: the row's s_attr_runs is not read (renderColumns) and the
	// attributes' runs are left zero.
	noRuns bool
	// flag: the row has one more column, seclyticsAny, read into
	// seclytics.
	flag      bool
	seclytics int64
	// skip are the columns of storedColumns the row leaves out
	// (renderColumns): they read as NULL.
	skip *[numStoredColumns]bool
	// names, when not nil, names the row's cluster, whose column is then
	// s_cluster_id (renderColumns with fieldClusterID).
	names     *clusterNames
	clusterID sql.NullInt64
	// raw: the key and the lookup netblock are scanned into buffers
	// reused from row to row (sql.RawBytes: not with QueryRow) rather
	// than a copy each.
	raw                bool
	ipRaw, lookupNBRaw sql.RawBytes

	ip                                        []byte
	status                                    string
	created, updated, sightings               int64
	predAt, detAt, lsa                        sql.NullInt64
	netblock, pcat, cluster, by, ids, cats, n sql.NullString
	imp                                       sql.NullFloat64
	attrRuns, lookupNB                        []byte
	hash, seen, expires                       sql.NullInt64
	firstSighted, lastSighted, sightedUntil   sql.NullInt64
	sListed                                   int64
	conf                                      sql.NullInt64
	lFeeds, lSources                          sql.NullString
	generation                                int64
	renewedAt                                 sql.NullInt64
	dest                                      []any
}

// scan reads one row of storedColumns (and seclyticsAny, with flag) into
// st.
func (r *storedRow) scan(sc scanner, st *merge.Stored) error {
	if r.dest == nil {
		r.dest = []any{&r.ip, &r.status, &r.created, &r.updated, &r.predAt, &r.netblock, &r.pcat, &r.cluster, &r.by, &r.ids, &r.cats,
			&r.detAt, &r.lsa, &r.imp, &r.n, &r.attrRuns, &r.hash, &r.lookupNB, &r.seen, &r.expires,
			&r.sightings, &r.firstSighted, &r.lastSighted, &r.sightedUntil, &r.sListed, &r.conf, &r.lFeeds, &r.lSources, &r.generation, &r.renewedAt}
		if r.names != nil {
			r.dest[clusterColumn] = &r.clusterID
		}
		if r.raw {
			r.dest[0], r.dest[lookupNBColumn] = &r.ipRaw, &r.lookupNBRaw
		}
		if r.skip != nil {
			// Never scanned, they keep their zero values: NULL.
			read := r.dest[:0]
			for i, d := range r.dest {
				if !r.skip[i] {
					read = append(read, d)
				}
			}
			r.dest = read
		}
		if r.flag {
			r.dest = append(r.dest, &r.seclytics)
		}
	}
	*st = merge.Stored{}
	if err := sc.Scan(r.dest...); err != nil {
		return fmt.Errorf("read indicator: %w", err)
	}
	ip, status, predAt, detAt, lsa, imp, lookupNB := r.ip, r.status, r.predAt, r.detAt, r.lsa, r.imp, r.lookupNB
	if r.raw {
		ip, lookupNB = r.ipRaw, r.lookupNBRaw
	}
	netblock, pcat, cluster, by, ids, cats, n := r.netblock, r.pcat, r.cluster, r.by, r.ids, r.cats, r.n
	if r.names != nil && r.clusterID.Valid {
		name, err := r.names.name(r.clusterID.Int64)
		if err != nil {
			return err
		}
		cluster = sql.NullString{String: name, Valid: true}
	}
	hash, seen, expires, firstSighted, lastSighted, sightedUntil := r.hash, r.seen, r.expires, r.firstSighted, r.lastSighted, r.sightedUntil
	sListed, conf, lFeeds, lSources := r.sListed, r.conf, r.lFeeds, r.lSources
	st.CreatedAt, st.UpdatedAt, st.Sightings, st.Generation, st.RenewedAt = r.created, r.updated, r.sightings, r.generation, r.renewedAt.Int64
	var (
		addr netip.Addr
		err  error
	)
	if len(ip) == netblockLen {
		// A network indicator: only its own reads (LookupNetwork) get here.
		if st.Prefix, err = parseNetblock(ip); err != nil {
			return err
		}
		addr = st.Prefix.Addr()
	} else if addr, err = addrFromKey(ip); err != nil {
		return err
	}
	st.Exists, st.Addr, st.Status = true, addr, indicator.Status(status)
	st.Hash = uint64(hash.Int64)
	st.SeenAt, st.ExpiresAt = seen.Int64, expires.Int64
	st.FirstSighted, st.LastSighted, st.SightedUntil = firstSighted.Int64, lastSighted.Int64, sightedUntil.Int64
	st.SListed, st.HasConfidence, st.Confidence = sListed == 1, conf.Valid, conf.Int64
	if lFeeds.Valid {
		st.ListFeeds = strings.Split(lFeeds.String, listSep)
	}
	if lSources.Valid {
		st.ListSources = strings.Split(lSources.String, listSep)
	}
	if lookupNB != nil {
		if st.LookupNetblock, err = parseNetblock(lookupNB); err != nil {
			return fmt.Errorf("indicator %s: %w", addr, err)
		}
	}
	set := func(s merge.Slot, ok bool) {
		if ok {
			st.Has = st.Has.With(s)
		}
	}
	set(merge.PredictedAt, predAt.Valid)
	st.PredictedAt = predAt.Int64
	if netblock.Valid {
		p := st.LookupNetblock
		if netblock.String != sameNetblock {
			if p, err = netip.ParsePrefix(netblock.String); err != nil {
				return fmt.Errorf("indicator %s: stored netblock: %w", addr, err)
			}
		} else if !p.IsValid() {
			return fmt.Errorf("indicator %s: stored netblock is the lookup netblock, which is missing", addr)
		}
		st.PredictedNetblock = p
		set(merge.PredictedNetblock, true)
	}
	set(merge.PredictedCategory, pcat.Valid)
	st.PredictedCategory = pcat.String
	set(merge.Cluster, cluster.Valid)
	st.Cluster = cluster.String
	for _, l := range []struct {
		s merge.Slot
		v sql.NullString
	}{{merge.DetectedBy, by}, {merge.DetectedIdentifiers, ids}, {merge.DetectedCategories, cats}} {
		if l.v.Valid {
			*st.List(l.s) = strings.Split(l.v.String, listSep)
			set(l.s, true)
		}
	}
	set(merge.DetectedAt, detAt.Valid)
	st.DetectedAt = detAt.Int64
	set(merge.LastSeenAt, lsa.Valid)
	st.LastSeenAt = lsa.Int64
	set(merge.Importance, imp.Valid)
	st.Importance = imp.Float64
	set(merge.NormalizedImportance, n.Valid)
	st.Normalized = n.String
	if r.noRuns {
		return nil
	}
	if err := unpackRuns(r.attrRuns, st); err != nil {
		return fmt.Errorf("indicator %s: %w", addr, err)
	}
	return nil
}

func defaultConfig() []byte {
	c := config.Default()
	return c.Encode()
}

// creates reports whether writing r adds an indicator to the store: a
// merge created it, or it was never loaded from the store.
func creates(r *merge.Stored) bool { return r.New || !r.Exists }
