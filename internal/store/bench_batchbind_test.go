package store

// An experiment for issue 15 item 2 (fewer driver calls): does handing
// SQLite a chunk of rows as one bound argument (a JSON array unpacked by
// json_each or jsonb_each, a blob or an in-memory chunk read by a
// table-valued function) cost less than binding 22 values per row into
// the multi-row VALUES upsert that sqliteIngest.Write runs? See
// docs/performance.md, "Batch binding". The ingest path does not use it.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
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

	"modernc.org/sqlite/vtab"
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

// jsonWriteSQL is writeStmt's upsert with its rows read from one JSON
// array of arrays (json_each) instead of bound VALUES: the blob columns
// (ip 0, s_attr_runs 15, s_lookup_netblock 17) travel as hex.
func jsonWriteSQL(each string) string {
	// "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the
	// upsert, not to a join in the SELECT.
	return `INSERT INTO indicators (` + strings.Join(writeColumns, ", ") + `)
		SELECT ` + jsonSelect() + ` FROM ` + each + `(?) WHERE true
		` + sqliteUpsert
}

// jsonSelect reads appendRow's values from a row's JSON array, value.
func jsonSelect() string {
	sel := make([]string, writeCols)
	for i := range sel {
		sel[i] = "value->>" + strconv.Itoa(i)
		if i == 0 || i == 15 || i == 17 {
			sel[i] = "unhex(" + sel[i] + ")"
		}
	}
	return strings.Join(sel, ", ")
}

// appendJSONRows appends rows as a JSON array of arrays of appendRow's
// values.
func appendJSONRows(b []byte, args []any, rows []*merge.Stored, clusters *clusterIDs) ([]byte, []any) {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		args = appendRow(args[:0], r, clusters.value(r))
		for j, v := range args {
			if j > 0 {
				b = append(b, ',')
			}
			switch v := v.(type) {
			case nil:
				b = append(b, "null"...)
			case int64:
				b = strconv.AppendInt(b, v, 10)
			case float64:
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			case string:
				b = strconv.AppendQuote(b, v) // the values are ASCII: Go's quoting is JSON's
			case []byte:
				b = append(b, '"')
				b = hex.AppendEncode(b, v)
				b = append(b, '"')
			default:
				panic(fmt.Sprintf("appendJSONRows: %T", v))
			}
		}
		b = append(b, ']')
	}
	return append(b, ']'), args
}

// writeJSON writes rows into in in chunks of k, one statement and one bound
// argument per chunk.
func writeJSON(ctx context.Context, in *sqliteIngest, rows []*merge.Stored, each string, k int) error {
	stmt, err := in.tx.PrepareContext(ctx, jsonWriteSQL(each))
	if err != nil {
		return err
	}
	defer stmt.Close()
	var (
		buf  []byte
		args []any
	)
	for start := 0; start < len(rows); start += k {
		chunk := rows[start:min(start+k, len(rows))]
		if err := in.clusters.resolve(ctx, in.tx, chunk); err != nil {
			return err
		}
		buf, args = appendJSONRows(buf[:0], args, chunk, &in.clusters)
		if _, err := stmt.ExecContext(ctx, string(buf)); err != nil {
			return err
		}
		for _, r := range chunk {
			if creates(r) {
				in.created++
			}
		}
	}
	return nil
}

// batchWriter is one way of writing the benchmark's rows; k is the JSON
// chunk, 0 for sqliteIngest.Write.
type batchWriter struct {
	name string
	each string
	k    int
}

var batchWriters = []batchWriter{{"values", "", 0}, {"json500", "json_each", 500}, {"json2000", "json_each", 2000},
	{"jsonb500", "jsonb_each", 500}, {"jsonb2000", "jsonb_each", 2000}, {"vtab500", "vtab", 500}, {"vtab2000", "vtab", 2000},
	{"handoff500", "handoff", 500}, {"handoff2000", "handoff", 2000}}

// ingestRows writes rows into a fresh store at path, the way a first
// ingest does (indexes deferred, built at commit), and returns the time
// and process CPU spent in the writes alone.
func ingestRows(tb testing.TB, path string, rows []*merge.Stored, w batchWriter) (wall, cpu time.Duration) {
	ctx := context.Background()
	if err := registerBatchModule(); err != nil {
		tb.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	in := tx.(*sqliteIngest)
	start, cpu0 := time.Now(), processCPU()
	if w.each == "vtab" || w.each == "handoff" {
		if err := writeVtab(ctx, in, rows, w.k, w.each == "handoff"); err != nil {
			tb.Fatal(err)
		}
	} else if w.k == 0 {
		// As the feed run calls it: a few thousand rows at a time.
		for i := 0; i < len(rows); i += 4096 {
			if err := tx.Write(ctx, rows[i:min(i+4096, len(rows))]); err != nil {
				tb.Fatal(err)
			}
		}
	} else if err := writeJSON(ctx, in, rows, w.each, w.k); err != nil {
		tb.Fatal(err)
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

// tableHash hashes every column of every indicator, in key order.
func tableHash(tb testing.TB, path string) (string, int) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	rows, err := s.r.QueryContext(ctx, `SELECT * FROM indicators ORDER BY ip`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	h, n := sha256.New(), 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		for _, v := range vals {
			// The type is hashed too: an integer stored as text differs.
			fmt.Fprintf(h, "%T:%v|", v, v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// TestBatchWritersSameTable checks that every batch writer writes exactly the
// table sqliteIngest.Write does, so the benchmark compares like with like.
func TestBatchWritersSameTable(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "the batch writers write SQLite files whatever the backend: the SQLite pass checks them")
	// More than the largest chunk (2,000) and a multiple of none (256,
	// 500, 2,000): a full chunk of each size, then a partial one.
	rows := batchRows(2321)
	dir := t.TempDir()
	var want string
	for _, w := range batchWriters {
		path := filepath.Join(dir, w.name+".db")
		ingestRows(t, path, rows, w)
		got, n := tableHash(t, path)
		if n != len(rows) {
			t.Fatalf("%s wrote %d indicators, want %d", w.name, n, len(rows))
		}
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s: table hash %s, want %s (as sqliteIngest.Write wrote it)", w.name, got, want)
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
				d, c := ingestRows(b, filepath.Join(b.TempDir(), fmt.Sprintf("%d.db", i)), rows, w)
				wall, cpu, i = wall+d, cpu+c, i+1
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(i*n), "write-ns/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(i*n), "write-cpu-ns/row")
		})
	}
}

// batchModule is a table-valued function over one bound blob of rows
// (encodeBatch's format): `SELECT c0, ..., c21 FROM temp.fw_batch WHERE
// batch = ?`. It hands SQLite each value through the driver's xColumn
// callback instead of a bound parameter.
type batchModule struct{}

type batchTable struct{}

type batchCursor struct {
	vals []vtab.Value
	pos  int // index of the row's first value in vals

	// rows is the chunk handed over in memory (WHERE batch = a handoff
	// id): each row's values are appendRow's, made when the row is
	// reached.
	rows     []*merge.Stored
	clusters *clusterIDs
	row      int
	args     []any
}

// handoffs are the chunks writeVtab hands fw_batch in memory, by id: the
// carray-style variant, with no encoding of the values at all.
var handoffs struct {
	sync.Mutex
	next int64
	m    map[int64]handoffChunk
}

// handoffChunk is a chunk of rows and the ids of their clusters.
type handoffChunk struct {
	rows     []*merge.Stored
	clusters *clusterIDs
}

var registerBatchModule = sync.OnceValue(func() error {
	return vtab.RegisterModule(nil, "forewarn_batch", batchModule{})
})

func (batchModule) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return batchModule{}.Connect(ctx, args)
}

func (batchModule) Connect(ctx vtab.Context, _ []string) (vtab.Table, error) {
	cols := make([]string, writeCols)
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i)
	}
	if err := ctx.Declare("CREATE TABLE x(" + strings.Join(cols, ", ") + ", batch HIDDEN)"); err != nil {
		return nil, err
	}
	return batchTable{}, nil
}

func (batchTable) BestIndex(info *vtab.IndexInfo) error {
	info.EstimatedCost = 1e12
	for i, c := range info.Constraints {
		if c.Usable && c.Op == vtab.OpEQ && c.Column == writeCols {
			info.Constraints[i].ArgIndex, info.Constraints[i].Omit = 0, true
			info.IdxNum, info.EstimatedCost = 1, 1
		}
	}
	return nil
}

func (batchTable) Open() (vtab.Cursor, error) { return &batchCursor{}, nil }
func (batchTable) Disconnect() error          { return nil }
func (batchTable) Destroy() error             { return nil }

func (c *batchCursor) Filter(idxNum int, _ string, vals []vtab.Value) error {
	if idxNum != 1 || len(vals) != 1 {
		return fmt.Errorf("fw_batch needs WHERE batch = ?")
	}
	c.rows, c.row, c.pos = nil, 0, 0
	if id, ok := vals[0].(int64); ok {
		handoffs.Lock()
		h := handoffs.m[id]
		c.rows, c.clusters = h.rows, h.clusters
		handoffs.Unlock()
		if c.rows == nil {
			return fmt.Errorf("fw_batch: no chunk handed over as %d", id)
		}
		c.vals = c.vals[:0]
		c.loadRow()
		return nil
	}
	b, ok := vals[0].([]byte)
	if !ok {
		return fmt.Errorf("fw_batch: batch is %T, want a blob", vals[0])
	}
	var err error
	c.vals, err = decodeBatch(c.vals[:0], b)
	c.pos = 0
	return err
}

// loadRow makes the values of the handed-over row c.row, if any.
func (c *batchCursor) loadRow() {
	if c.row < len(c.rows) {
		c.args = appendRow(c.args[:0], c.rows[c.row], c.clusters.value(c.rows[c.row]))
	}
}

func (c *batchCursor) Next() error {
	if c.rows != nil {
		c.row++
		c.loadRow()
		return nil
	}
	c.pos += writeCols
	return nil
}
func (c *batchCursor) Eof() bool {
	if c.rows != nil {
		return c.row >= len(c.rows)
	}
	return c.pos >= len(c.vals)
}
func (c *batchCursor) Column(col int) (vtab.Value, error) {
	if c.rows != nil {
		return c.args[col], nil
	}
	return c.vals[c.pos+col], nil
}
func (c *batchCursor) Rowid() (int64, error) { return int64(c.row + c.pos/writeCols), nil }
func (c *batchCursor) Close() error          { c.vals = nil; return nil }

// Value tags of encodeBatch's format.
const (
	tagNull = iota
	tagInt
	tagFloat
	tagText
	tagBlob
)

// encodeBatch appends appendRow's values of rows as tagged values: a tag
// byte, then 8 little-endian bytes for a number or a uvarint length and
// the bytes for a text or a blob.
func encodeBatch(b []byte, args []any, rows []*merge.Stored, clusters *clusterIDs) ([]byte, []any) {
	for _, r := range rows {
		args = appendRow(args[:0], r, clusters.value(r))
		for _, v := range args {
			switch v := v.(type) {
			case nil:
				b = append(b, tagNull)
			case int64:
				b = binary.LittleEndian.AppendUint64(append(b, tagInt), uint64(v))
			case float64:
				b = binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(v))
			case string:
				b = append(binary.AppendUvarint(append(b, tagText), uint64(len(v))), v...)
			case []byte:
				b = append(binary.AppendUvarint(append(b, tagBlob), uint64(len(v))), v...)
			default:
				panic(fmt.Sprintf("encodeBatch: %T", v))
			}
		}
	}
	return b, args
}

func decodeBatch(vals []vtab.Value, b []byte) ([]vtab.Value, error) {
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		switch tag {
		case tagNull:
			vals = append(vals, nil)
		case tagInt, tagFloat:
			if len(b) < 8 {
				return nil, fmt.Errorf("fw_batch: truncated number")
			}
			u := binary.LittleEndian.Uint64(b)
			b = b[8:]
			if tag == tagInt {
				vals = append(vals, int64(u))
			} else {
				vals = append(vals, math.Float64frombits(u))
			}
		case tagText, tagBlob:
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return nil, fmt.Errorf("fw_batch: truncated value")
			}
			v := b[k : k+int(n)]
			b = b[k+int(n):]
			if tag == tagText {
				vals = append(vals, string(v))
			} else {
				vals = append(vals, v)
			}
		default:
			return nil, fmt.Errorf("fw_batch: unknown tag %d", tag)
		}
	}
	if len(vals)%writeCols != 0 {
		return nil, fmt.Errorf("fw_batch: %d values, not whole rows", len(vals))
	}
	return vals, nil
}

// writeVtab writes rows into in in chunks of k through fw_batch, each
// chunk bound as one encoded blob or, with handoff, as the id of the chunk
// held in memory.
func writeVtab(ctx context.Context, in *sqliteIngest, rows []*merge.Stored, k int, handoff bool) error {
	if _, err := in.tx.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.fw_batch USING forewarn_batch`); err != nil {
		return err
	}
	cols := make([]string, writeCols)
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i)
	}
	q := strings.Replace(jsonWriteSQL("json_each"), "SELECT "+jsonSelect()+" FROM json_each(?) WHERE true",
		"SELECT "+strings.Join(cols, ", ")+" FROM temp.fw_batch WHERE batch = ?", 1)
	stmt, err := in.tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	var (
		buf  []byte
		args []any
	)
	for start := 0; start < len(rows); start += k {
		chunk := rows[start:min(start+k, len(rows))]
		if err := in.clusters.resolve(ctx, in.tx, chunk); err != nil {
			return err
		}
		if handoff {
			handoffs.Lock()
			handoffs.next++
			id := handoffs.next
			if handoffs.m == nil {
				handoffs.m = map[int64]handoffChunk{}
			}
			handoffs.m[id] = handoffChunk{chunk, &in.clusters}
			handoffs.Unlock()
			_, err := stmt.ExecContext(ctx, id)
			handoffs.Lock()
			delete(handoffs.m, id)
			handoffs.Unlock()
			if err != nil {
				return err
			}
		} else {
			buf, args = encodeBatch(buf[:0], args, chunk, &in.clusters)
			if _, err := stmt.ExecContext(ctx, buf); err != nil {
				return err
			}
		}
		for _, r := range chunk {
			if creates(r) {
				in.created++
			}
		}
	}
	return nil
}
