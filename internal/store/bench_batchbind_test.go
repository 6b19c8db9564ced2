package store

// Issue 15 item 2 (fewer driver calls): sqliteIngest.Write hands SQLite
// each chunk of rows in memory, through fw_batch (batchvtab.go), where it
// used to bind 22 values per row into a multi-row VALUES upsert. The tests
// here hold the two to the same table, and the benchmark compares them;
// see docs/performance.md, "Batch binding". (The JSON and encoded-blob
// ways that experiment also measured lost; they are in its commit,
// d3e53af.)

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"
)

// batchRows builds n keep-everything rows in key order, every attribute
// present, shaped like a Seclytics dump's: a 40-hex cluster repeated for
// ~27 addresses, a /24 netblock, three lists, fractional importances.
func batchRows(n int) []*merge.Stored {
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []string{"malware", "phishing", "scanner", "botnet", "spam"}
	by := []string{"honeypot", "sandbox", "sinkhole", "crawler"}
	norm := []string{"low", "medium", "high", "critical"}
	rows := make([]*merge.Stored, n)
	for i := range rows {
		k := 0x0a000000 + i*3
		a := netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
		nb := netip.PrefixFrom(a, 24).Masked()
		r := &merge.Stored{Record: merge.Record{Addr: a}, New: true, Status: indicator.StatusActive,
			CreatedAt: 1796000000, UpdatedAt: 1796000000, SeenAt: 1796000000, ExpiresAt: 1798592000 + int64(i%86400)}
		if i%10 == 0 {
			r.Status = indicator.StatusExpired
		}
		for s := merge.Slot(0); s < merge.NumSlots; s++ {
			r.Has = r.Has.With(s)
			r.Created[s], r.Updated[s] = 7, 7
		}
		r.PredictedAt = 1795000000 + int64(rng.IntN(1e6))
		r.PredictedNetblock, r.LookupNetblock = nb, nb
		r.PredictedCategory = cats[i%len(cats)]
		r.Cluster = fmt.Sprintf("%040x", uint64(i/27)*0x9e3779b97f4a7c15)
		r.DetectedBy = []string{by[i%len(by)], by[(i+1)%len(by)]}
		r.DetectedIdentifiers = []string{"id-" + strconv.Itoa(i%977)}
		r.DetectedCategories = []string{cats[(i+2)%len(cats)]}
		r.DetectedAt = r.PredictedAt + int64(rng.IntN(86400))
		r.LastSeenAt = r.DetectedAt + int64(rng.IntN(86400))
		r.Importance = float64(rng.IntN(100000)) / 1000 // 0.1-style values, inexact in binary
		r.Normalized = norm[i%len(norm)]
		r.Hash = rng.Uint64()
		rows[i] = r
	}
	return rows
}

// variedRows are batchRows with what a real dump varies: attributes
// missing, empty lists, IPv6 addresses, a predicted netblock other than
// the lookup one, runs that differ per attribute, no seen date, every
// status.
func variedRows(n int) []*merge.Stored {
	rows := batchRows(n)
	statuses := []indicator.Status{indicator.StatusActive, indicator.StatusExpired, indicator.StatusReview, indicator.StatusWhitelisted}
	for i, r := range rows {
		switch i % 7 {
		case 1:
			r.Has &^= merge.Set(0).With(merge.Importance).With(merge.Cluster).With(merge.DetectedBy)
		case 2:
			r.DetectedIdentifiers = nil
		case 3:
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)})
			r.Addr, r.LookupNetblock = a, netip.PrefixFrom(a, 48).Masked()
			r.PredictedNetblock = r.LookupNetblock
		case 4:
			r.PredictedNetblock = netip.MustParsePrefix("192.0.2.0/24")
		case 5:
			r.Created[merge.DetectedAt], r.Updated[merge.Importance] = 3, 9
		case 6:
			r.SeenAt, r.ExpiresAt = 0, 0
		}
		r.Status = statuses[i%len(statuses)]
		if i%11 == 0 {
			r.New, r.Exists = false, true
		}
	}
	return rows
}

// valuesWriteStmt is the multi-row VALUES upsert of n rows that Write ran
// before fw_batch: 22 bound parameters per row.
func valuesWriteStmt(ctx context.Context, in *sqliteIngest, stmts map[int]*sql.Stmt, n int) (*sql.Stmt, error) {
	if st, ok := stmts[n]; ok {
		return st, nil
	}
	one := "(?" + strings.Repeat(",?", writeCols-1) + ")"
	q := `INSERT INTO indicators (` + strings.Join(writeColumns, ", ") + `)
		VALUES ` + one + strings.Repeat(","+one, n-1) + `
		` + sqliteUpsert
	st, err := in.tx.PrepareContext(ctx, q)
	if err == nil {
		stmts[n] = st
	}
	return st, err
}

// writeValues is Write as it was before fw_batch: BatchSize rows per
// VALUES upsert.
func writeValues(ctx context.Context, in *sqliteIngest, stmts map[int]*sql.Stmt, recs []*merge.Stored) error {
	if err := in.clusters.resolve(ctx, in.tx, recs); err != nil {
		return err
	}
	for start := 0; start < len(recs); start += BatchSize {
		batch := in.splitLoaded(recs[start:min(start+BatchSize, len(recs))])
		if err := valuesWriteUpdates(ctx, in, stmts); err != nil {
			return err
		}
		if len(batch) == 0 {
			continue
		}
		stmt, err := valuesWriteStmt(ctx, in, stmts, len(batch))
		if err != nil {
			return err
		}
		in.args = in.args[:0]
		for _, r := range batch {
			in.args = appendRow(in.args, r, in.clusters.value(r))
			if creates(r) {
				in.created++
			}
		}
		if _, err := stmt.ExecContext(ctx, in.args...); err != nil {
			return err
		}
	}
	return nil
}

// valuesWriteUpdates is writeUpdates as it was before fw_batch: each
// mask's rows in VALUES updates of 64, 16, 4 and 1 rows.
func valuesWriteUpdates(ctx context.Context, in *sqliteIngest, stmts map[int]*sql.Stmt) error {
	groups := map[int][]*merge.Stored{}
	for _, u := range in.updates {
		groups[u.mask] = append(groups[u.mask], u.r)
	}
	one := "(?" + strings.Repeat(",?", writeCols-1) + ")"
	for mask, rows := range groups {
		for len(rows) > 0 {
			n := 1
			for _, c := range []int{64, 16, 4, 1} {
				if c <= len(rows) {
					n = c
					break
				}
			}
			k := -(mask<<8 | n)
			stmt, ok := stmts[k]
			if !ok {
				var err error
				q := `WITH v(` + strings.Join(writeColumns, ", ") + `) AS (VALUES ` + one + strings.Repeat(","+one, n-1) + `) ` + updateSQL(mask, "v")
				if stmt, err = in.tx.PrepareContext(ctx, q); err != nil {
					return err
				}
				stmts[k] = stmt
			}
			in.args = in.args[:0]
			for _, r := range rows[:n] {
				in.args = appendRow(in.args, r, in.clusters.value(r))
			}
			if _, err := stmt.ExecContext(ctx, in.args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
	}
	return nil
}

// batchWriter is one way of writing rows: values is the VALUES upsert,
// otherwise sqliteIngest.Write.
type batchWriter struct {
	name   string
	values bool
}

var batchWriters = []batchWriter{{"values", true}, {"vtab", false}}

// writeRows writes rows in one ingest of the store at path, BatchSize
// rows per call as a feed run hands them, and returns the time and
// process CPU spent in the writes alone.
func writeRows(tb testing.TB, path string, rows []*merge.Stored, w batchWriter) (wall, cpu time.Duration) {
	return rewriteRows(tb, path, rows, w, nil)
}

// rewriteRows is writeRows; with change, each BatchSize rows are first
// loaded from the store (only their addresses count), then changed, as a
// re-run changes what it loads.
func rewriteRows(tb testing.TB, path string, rows []*merge.Stored, w batchWriter, change func(i int, r *merge.Stored)) (wall, cpu time.Duration) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	in := tx.(*sqliteIngest)
	stmts := map[int]*sql.Stmt{}
	start, cpu0 := time.Now(), processCPU()
	for i := 0; i < len(rows); i += BatchSize {
		chunk := rows[i:min(i+BatchSize, len(rows))]
		if change != nil {
			if err := tx.Load(ctx, chunk); err != nil {
				tb.Fatal(err)
			}
			for j, r := range chunk {
				change(i+j, r)
			}
		}
		if w.values {
			err = writeValues(ctx, in, stmts, chunk)
		} else {
			err = tx.Write(ctx, chunk)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	wall, cpu = time.Since(start), processCPU()-cpu0
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return wall, cpu
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tableHash hashes every column of every indicator, in key order, and the
// store's counts and clusters.
func tableHash(tb testing.TB, path string) (string, int) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	h, n := sha256.New(), 0
	for _, q := range []string{`SELECT * FROM indicators ORDER BY ip`, `SELECT * FROM s_clusters ORDER BY id`, `SELECT * FROM store_counts ORDER BY 1`} {
		rows, err := s.r.QueryContext(ctx, q)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for _, v := range vals {
				// The type is hashed too: an integer stored as text differs.
				fmt.Fprintf(h, "%T:%v|", v, v)
			}
			if strings.Contains(q, "indicators") {
				n++
			}
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// TestBatchWriteSameTable checks that Write through fw_batch writes
// exactly the table the VALUES statements it replaced did: into an empty
// store, again over the rows written, changed (the upsert's conflict
// path), and over rows loaded and changed (the updates).
func TestBatchWriteSameTable(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "it writes SQLite files whatever the backend: the SQLite pass checks it")
	first := variedRows(1300) // not a multiple of any chunk
	second := variedRows(1300)
	for i, r := range second {
		switch i % 3 {
		case 0:
			r.Status, r.Importance, r.Cluster = indicator.StatusExpired, r.Importance+1, "other"
		case 1:
			r.Has &^= merge.Set(0).With(merge.PredictedCategory)
			r.UpdatedAt, r.Hash = r.UpdatedAt+86400, r.Hash+1
		}
		r.New, r.Exists = false, true
	}
	// The third write loads the rows and changes some of their indexed
	// columns, some not: the updates of ingestupdate.go.
	change := func(i int, r *merge.Stored) {
		switch i % 5 {
		case 0:
			r.Importance += 2
		case 1:
			r.Status, r.ExpiresAt = indicator.StatusActive, r.ExpiresAt+1
		case 2:
			r.DetectedBy = append(r.DetectedBy, "again")
		case 3:
			r.Cluster, r.Has = "third", r.Has.With(merge.Cluster)
			r.PredictedCategory = "moved"
		}
		r.Hash++
	}
	dir := t.TempDir()
	hashes := map[string][]string{}
	for _, w := range batchWriters {
		path := filepath.Join(dir, w.name+".db")
		third := make([]*merge.Stored, len(first))
		for i, r := range first {
			third[i] = &merge.Stored{Record: merge.Record{Addr: r.Addr}}
		}
		for step, rows := range [][]*merge.Stored{first, second, third} {
			if step < 2 {
				writeRows(t, path, rows, w)
			} else {
				rewriteRows(t, path, rows, w, change)
			}
			got, n := tableHash(t, path)
			if n != len(first) {
				t.Fatalf("%s wrote %d indicators, want %d", w.name, n, len(first))
			}
			hashes[w.name] = append(hashes[w.name], got)
		}
	}
	want := hashes["values"]
	if want[0] == want[1] || want[1] == want[2] {
		t.Fatal("a write changed nothing: the test does not reach the conflict path or the updates")
	}
	for name, got := range hashes {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s, write %d: table hash %s, want %s (as the VALUES upsert wrote it)", name, i+1, got[i], want[i])
			}
		}
	}
}

// TestBatchWriteFailsWhole checks that a chunk whose statement fails
// half-way writes none of its rows, that the run then rolls back whole,
// and that no chunk is left held.
func TestBatchWriteFailsWhole(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	before := variedRows(300)
	writeRows(t, path, before, batchWriter{name: "vtab"})
	wantHash, _ := tableHash(t, path)

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	in := tx.(*sqliteIngest)
	count := func() int {
		var n int
		if err := in.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM indicators`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A chunk of new rows, written.
	fresh := batchRows(BatchSize + 1000)[1000:]
	for _, r := range fresh {
		r.Addr = netip.AddrFrom4([4]byte{198, 18, byte(r.Addr.As4()[2]), r.Addr.As4()[3]})
	}
	if err := tx.Write(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != len(before)+BatchSize {
		t.Fatalf("after the first chunk the run holds %d indicators, want %d", n, len(before)+BatchSize)
	}
	// A chunk that changes the stored rows, then fails on its 101st row.
	bad := variedRows(300)[:BatchSize]
	for _, r := range bad {
		r.Importance, r.Status, r.New, r.Exists = 1, indicator.StatusExpired, false, true
	}
	bad = append(bad[:100:100], append([]*merge.Stored{{Status: indicator.StatusActive}}, bad[100:]...)...)
	err = tx.Write(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "no address") {
		t.Fatalf("Write of a chunk with a row without an address: %v, want its error", err)
	}
	if n := count(); n != len(before)+BatchSize {
		t.Errorf("after the failed chunk the run holds %d indicators, want %d", n, len(before)+BatchSize)
	}
	var changed int
	if err := in.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM indicators WHERE s_importance = 1`).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if changed != 0 {
		t.Errorf("the failed chunk changed %d of its rows before the one that failed, want none", changed)
	}
	if n := s.batches.pending(); n != 0 {
		t.Errorf("%d chunks still held after the statements", n)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got, n := tableHash(t, path); got != wantHash || n != len(before) {
		t.Errorf("after the rollback the store holds %d indicators, hash %s; want the %d it held before, %s", n, got, len(before), wantHash)
	}
}

// TestBatchWriteConcurrentStores checks that stores writing at once in
// one process each read their own chunks: every store ends with its own
// rows, none of another's.
func TestBatchWriteConcurrentStores(t *testing.T) {
	dir := t.TempDir()
	const stores = 4
	want := make([]string, stores)
	rowsOf := func(k int) []*merge.Stored {
		rows := variedRows(700) // three chunks
		for _, r := range rows {
			if r.Addr.Is4() {
				b := r.Addr.As4()
				r.Addr = netip.AddrFrom4([4]byte{byte(20 + k), b[1], b[2], b[3]})
			}
			r.Importance = float64(k)
		}
		return rows
	}
	// Each store's table as written alone.
	for k := range stores {
		path := filepath.Join(dir, fmt.Sprintf("alone%d.db", k))
		writeRows(t, path, rowsOf(k), batchWriter{name: "vtab"})
		want[k], _ = tableHash(t, path)
	}
	var wg sync.WaitGroup
	errs := make(chan error, stores)
	for k := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("together%d.db", k)))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			tx, err := s.BeginIngest(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer tx.Rollback()
			rows := rowsOf(k)
			for i := 0; i < len(rows); i += BatchSize {
				if err := tx.Write(ctx, rows[i:min(i+BatchSize, len(rows))]); err != nil {
					errs <- err
					return
				}
			}
			errs <- tx.Commit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for k := range stores {
		if got, _ := tableHash(t, filepath.Join(dir, fmt.Sprintf("together%d.db", k))); got != want[k] {
			t.Errorf("store %d written beside the others: hash %s, want %s as written alone", k, got, want[k])
		}
	}
}

// BenchmarkBatchBind writes FOREWARN_BATCH_ROWS (default 20,000, sized
// for CI's single pass; docs/performance.md used 200,000) rows into
// a fresh store each way and reports the writes' wall and CPU time per row
// (the commit's index builds are left out: both ways share them).
func BenchmarkBatchBind(b *testing.B) {
	n := 20000
	if v := os.Getenv("FOREWARN_BATCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	rows := batchRows(n)
	for _, w := range batchWriters {
		b.Run(w.name, func(b *testing.B) {
			var wall, cpu time.Duration
			i := 0
			for b.Loop() {
				d, c := writeRows(b, filepath.Join(b.TempDir(), fmt.Sprintf("%d.db", i)), rows, w)
				wall, cpu, i = wall+d, cpu+c, i+1
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(i*n), "write-ns/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(i*n), "write-cpu-ns/row")
		})
	}
}

// TestBatchUpdatePlan checks that the update of loaded rows reads the
// chunk and looks each of its rows up by key: the other join order would
// scan every stored indicator once per chunk.
func TestBatchUpdatePlan(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	writeRows(t, path, batchRows(3000), batchWriter{name: "vtab"})
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	in := tx.(*sqliteIngest)
	for _, mask := range []int{0, setStatus | setConfidence | setUpdatedAt | setExpiresAt | setImportance | setCluster | setPredicted} {
		q := updateSQL(mask, `(SELECT `+batchAliases+` FROM temp.fw_batch WHERE batch = ?) AS v`)
		rows, err := in.tx.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, int64(1))
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) != 2 || !strings.Contains(plan[0], "fw_batch VIRTUAL TABLE INDEX 1") ||
			!strings.HasPrefix(plan[1], "SEARCH indicators") || !strings.Contains(plan[1], "(ip=?)") {
			t.Errorf("mask %b: plan %q, want the chunk read first, then each row's indicator by key", mask, plan)
		}
	}
}
