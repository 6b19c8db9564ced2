package store

// Batch binding (issue 15 item 2; docs/performance.md, "Batch binding"):
// sqliteIngest hands SQLite a chunk of rows as one bound argument, the id
// of the chunk, and a table-valued function, temp.fw_batch, reads the
// chunk's rows from memory as SQLite asks for them. Binding 22 parameters
// per row of a multi-row VALUES cost about twice the CPU.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
	"modernc.org/sqlite/vtab"

	"forewarn/internal/merge"
)

// batchModule is the name the table-valued function's module has on the
// writer's connections.
const batchModule = "forewarn_batch"

// writerDriver opens SQLite's writer connections: the driver the batch
// module is registered on, so that no other connection in the process
// sees it. It is one driver for every store rather than one per Store:
// modernc.org/sqlite keeps each driver a connection was opened on, with its
// modules, reachable for the life of the process (v1.62.0 vtab.go,
// name2id), so a driver per Open would never be freed. Which store's chunks
// a connection's fw_batch reads is the table's argument (batchStores).
//
// A constructed driver has none of the package-level driver's functions:
// the ones the store registers are registered on it too (query.go).
var writerDriver = func() *sqlite.Driver {
	d := &sqlite.Driver{}
	if err := d.RegisterModule(batchModule, batchModuleImpl{}); err != nil {
		panic(err)
	}
	return d
}()

// writerConnector opens dsn on writerDriver.
type writerConnector struct{ dsn string }

func (c writerConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return writerDriver.Open(c.dsn)
}

func (c writerConnector) Driver() driver.Driver { return writerDriver }

// batchChunks are a store's chunks pending a statement, by id: a chunk is
// put before the statement that reads it and released after it, so only
// the chunk of the statement running is held.
type batchChunks struct {
	// key names these chunks in batchStores and in fw_batch's argument.
	key  int64
	mu   sync.Mutex
	next int64
	m    map[int64]batchChunk
}

// batchChunk is a chunk of rows and the ids of their clusters.
type batchChunk struct {
	rows     []*merge.Stored
	clusters *clusterIDs
}

var (
	// batchStores are the open SQLite stores' chunks, by key.
	batchStores  sync.Map // int64 → *batchChunks
	lastBatchKey atomic.Int64
)

// newBatchChunks makes a store's chunk table and registers it until
// close.
func newBatchChunks() *batchChunks {
	b := &batchChunks{key: lastBatchKey.Add(1), m: map[int64]batchChunk{}}
	batchStores.Store(b.key, b)
	return b
}

// close unregisters the table.
func (b *batchChunks) close() {
	if b != nil {
		batchStores.Delete(b.key)
	}
}

// put holds a chunk until release and returns its id.
func (b *batchChunks) put(rows []*merge.Stored, clusters *clusterIDs) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	b.m[b.next] = batchChunk{rows, clusters}
	return b.next
}

func (b *batchChunks) get(id int64) (batchChunk, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.m[id]
	return c, ok
}

func (b *batchChunks) release(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
}

// pending is how many chunks are held.
func (b *batchChunks) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// createBatchTable is the statement that gives a writer connection its
// fw_batch over chunks: a temporary table, the connection's own. Run in
// an ingest's transaction, it is undone with it.
func createBatchTable(chunks *batchChunks) string {
	return `CREATE VIRTUAL TABLE IF NOT EXISTS temp.fw_batch USING ` + batchModule + `(` + strconv.FormatInt(chunks.key, 10) + `)`
}

// batchColumns are fw_batch's columns, appendRow's values in its order:
// c0 … c21.
var batchColumns = func() string {
	cols := make([]string, writeCols)
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i)
	}
	return strings.Join(cols, ", ")
}()

// batchModuleImpl is the module behind fw_batch: `SELECT c0, …, c21 FROM
// temp.fw_batch WHERE batch = ?` reads the rows of the chunk whose id is
// bound, each row's values appendRow's, made as the cursor reaches it.
type batchModuleImpl struct{}

type batchTable struct{ chunks *batchChunks }

type batchCursor struct {
	chunks   *batchChunks
	rows     []*merge.Stored
	clusters *clusterIDs
	row      int
	vals     []any
	// err is why row has no values: Column reports it, with its message
	// (an error from Next reaches SQLite without one).
	err error
}

func (m batchModuleImpl) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return m.Connect(ctx, args)
}

// Connect declares the table; args are the module, database and table
// names and then the key of the store's chunks.
func (batchModuleImpl) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%s: want the key of a store's chunks as the only argument", batchModule)
	}
	key, err := strconv.ParseInt(args[3], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", batchModule, err)
	}
	chunks, ok := batchStores.Load(key)
	if !ok {
		return nil, fmt.Errorf("%s: no open store has the key %d", batchModule, key)
	}
	if err := ctx.Declare("CREATE TABLE x(" + batchColumns + ", batch HIDDEN)"); err != nil {
		return nil, err
	}
	return batchTable{chunks.(*batchChunks)}, nil
}

// BestIndex accepts only the plan that reads a chunk, batch = ?: without
// it the table has no rows to give.
func (batchTable) BestIndex(info *vtab.IndexInfo) error {
	info.EstimatedCost, info.EstimatedRows = 1e12, 1e12
	for i, c := range info.Constraints {
		if c.Usable && c.Op == vtab.OpEQ && c.Column == writeCols {
			info.Constraints[i].ArgIndex, info.Constraints[i].Omit = 0, true
			// About a chunk's rows, so that a join reads the chunk
			// first and looks each row up by key, not the other way.
			info.IdxNum, info.EstimatedCost, info.EstimatedRows = 1, BatchSize, BatchSize
			return nil
		}
	}
	return nil
}

func (t batchTable) Open() (vtab.Cursor, error) { return &batchCursor{chunks: t.chunks}, nil }
func (batchTable) Disconnect() error            { return nil }
func (batchTable) Destroy() error               { return nil }

func (c *batchCursor) Filter(idxNum int, _ string, vals []vtab.Value) error {
	c.rows, c.clusters, c.row = nil, nil, 0
	if idxNum != 1 || len(vals) != 1 {
		return errors.New("fw_batch is read with WHERE batch = ?")
	}
	id, ok := vals[0].(int64)
	if !ok {
		return fmt.Errorf("fw_batch: batch is %T, want a chunk's id", vals[0])
	}
	chunk, ok := c.chunks.get(id)
	if !ok {
		return fmt.Errorf("fw_batch: no chunk has the id %d", id)
	}
	c.rows, c.clusters = chunk.rows, chunk.clusters
	return c.load()
}

// load makes the values of row c.row, if the chunk has it.
func (c *batchCursor) load() error {
	c.err = nil
	if c.row >= len(c.rows) {
		return nil
	}
	r := c.rows[c.row]
	if !r.Addr.IsValid() {
		// key would store it as ::, an address no dump holds.
		c.err = fmt.Errorf("row %d of the chunk has no address", c.row)
		return nil
	}
	c.vals = appendRow(c.vals[:0], r, c.clusters.value(r))
	return nil
}

func (c *batchCursor) Next() error {
	c.row++
	return c.load()
}

func (c *batchCursor) Eof() bool { return c.row >= len(c.rows) }

func (c *batchCursor) Column(col int) (vtab.Value, error) {
	if c.err != nil {
		return nil, c.err
	}
	if col >= len(c.vals) {
		return nil, fmt.Errorf("fw_batch: no column %d", col)
	}
	return c.vals[col], nil
}

func (c *batchCursor) Rowid() (int64, error) { return int64(c.row), nil }

func (c *batchCursor) Close() error {
	c.rows, c.clusters, c.vals = nil, nil, nil
	return nil
}
