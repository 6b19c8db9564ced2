package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"forewarn/internal/stage"
)

// SeclyticsConfidence is the confidence (0-100) Seclytics' listing adds to
// an indicator's combined confidence, until feed definitions give each feed
// its own.
const SeclyticsConfidence = 80

// ListMode says what a list feed's file means.
type ListMode string

// List modes.
const (
	// ModeSnapshot: the file is the whole current list; an entry missing
	// from the newest successful run is delisted by the feed.
	ModeSnapshot ListMode = "snapshot"
	// ModeCumulative: entries add and update; absence means nothing. With
	// an age_out, an entry the feed has not given for that long (by its own
	// Last Seen, else by forewarn's last observation) is delisted.
	ModeCumulative ListMode = "cumulative"
)

// ListEntry is one entry of a list feed's run: a host or a network, the
// feed's own first and last seen dates (zero: the feed has none), and its
// attributes.
type ListEntry struct {
	Prefix    netip.Prefix
	FirstSeen time.Time
	LastSeen  time.Time
	Attrs     []ListAttr
}

// ListEntries is the stream of a run's entries. Next returns io.EOF after
// the last one; any other error ends the run with nothing changed. The
// entry's slices may be reused by the next call.
type ListEntries interface {
	Next() (ListEntry, error)
}

// ListRun is what the store needs to know about a list feed's run.
type ListRun struct {
	Feed   string // the feed's id
	Source string // the name shown as an indicator's source
	Mode   ListMode
	// Confidence is the feed's confidence, 0-100.
	Confidence int
	// AgeOut delists, in cumulative mode, entries not given for this long
	// (0: never).
	AgeOut time.Duration
	// Now is the run's time (the zero value: time.Now()).
	Now time.Time
	// Allowlist are the allow-listed ranges (entries and special-purpose
	// ranges): indicators inside them are Whitelisted, as Seclytics' are.
	Allowlist []netip.Prefix
	// TempDir is where staging spills (the zero value: os.TempDir()).
	TempDir string
	// Validators of the body ingested, stored with the run for the next
	// one's conditional GET and unchanged-body check.
	Validators ListValidators
}

// ListValidators identify the body a list run ingested.
type ListValidators struct {
	ETag, LastModified, BodySHA256 string
}

// ListFeedState is what the store remembers of a list feed's last
// successful run.
type ListFeedState struct {
	Source     string
	Mode       ListMode
	Confidence int
	LastRunAt  *time.Time
	Validators ListValidators
}

// ListFeedState returns the state of a list feed, or an error wrapping
// ErrNotFound if it never ran.
func (s *Store) ListFeedState(ctx context.Context, feed string) (ListFeedState, error) {
	var (
		st           ListFeedState
		mode         string
		last         sql.NullInt64
		etag, lm, sh sql.NullString
	)
	err := s.r.QueryRowContext(ctx, `SELECT source, mode, confidence, last_run_at, etag, last_modified, body_sha256
		FROM list_feeds WHERE feed = ?`, feed).Scan(&st.Source, &mode, &st.Confidence, &last, &etag, &lm, &sh)
	if isNoRows(err) {
		return st, fmt.Errorf("list feed %s: %w", feed, ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("read list feed %s: %w", feed, err)
	}
	st.Mode, st.LastRunAt = ListMode(mode), unixPtr(last)
	st.Validators = ListValidators{ETag: etag.String, LastModified: lm.String, BodySHA256: sh.String}
	return st, nil
}

// Validate names the first bad field of r.
func (r *ListRun) Validate() error {
	switch {
	case r.Feed == "":
		return errors.New("list run: no feed id")
	case r.Source == "":
		return fmt.Errorf("list run of %s: no source name", r.Feed)
	case r.Mode != ModeSnapshot && r.Mode != ModeCumulative:
		return fmt.Errorf("list run of %s: mode %q: use snapshot or cumulative", r.Feed, r.Mode)
	case r.Confidence < 0 || r.Confidence > 100:
		return fmt.Errorf("list run of %s: confidence %d: give a number from 0 to 100", r.Feed, r.Confidence)
	case r.AgeOut < 0:
		return fmt.Errorf("list run of %s: age_out %s is negative", r.Feed, r.AgeOut)
	}
	return nil
}

// ListCounts are what a list run did.
type ListCounts struct {
	// Entries is how many entries the stream gave; Duplicates how many of
	// them repeated an earlier entry's host or network (the last wins).
	Entries, Duplicates int64
	// Created counts the indicators the run added to the store; Updated
	// the memberships it added to existing indicators, changed or listed
	// again; Unchanged those it found as stored; Delisted those it ended.
	Created, Updated, Unchanged, Delisted int64
	// Whitelisted counts the indicators the allow-list marked Whitelisted.
	Whitelisted int64
	// Listed is how many hosts and networks the feed lists after the run:
	// the counter the feed lists show (FeedSummary).
	Listed int64
}

// listStageBuffer is the staging sort's memory: beyond it, entries spill to
// temporary files.
const listStageBuffer = 32 << 20

// listKeyLen is the staged key: the prefix's sort form (its 16-byte
// address, then 0 for a host or its length in the 128-bit space plus one
// for a network, so that staged entries sort as their stored keys do),
// then the entry's sequence number, so that the last of repeated entries
// wins.
const listKeyLen = netblockLen + 8

// IngestList stores one run of a list feed, in one transaction: it adds
// the indicators the feed lists that the store lacks, adds or updates the
// feed's membership of each, and in snapshot mode delists the feed's
// memberships the run did not give. Then it recomputes the status and
// combined confidence of every indicator whose listings changed.
//
// The entries are staged first (a bounded-memory external sort), then
// compared, in key order, with the feed's stored memberships (a hash per
// membership): only new, changed and delisted ones reach the staging
// tables, so an unchanged re-run writes nothing. A stream that fails, or a
// context cancelled at any point, changes nothing.
func (s *Store) IngestList(ctx context.Context, run ListRun, entries ListEntries) (ListCounts, error) {
	var c ListCounts
	if err := run.Validate(); err != nil {
		return c, err
	}
	if run.Now.IsZero() {
		run.Now = time.Now()
	}
	dir := run.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	sorter := stage.New(dir, listKeyLen, listStageBuffer)
	defer sorter.Close()
	if err := stageEntries(ctx, sorter, entries, &c); err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	it, err := sorter.Iterator()
	if err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	lt, err := s.beginList(ctx)
	if err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	defer lt.close()
	cmp := &listCompare{lt: lt, run: &run, c: &c}
	if err := cmp.compare(ctx, it); err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	if err := lt.merge(ctx, &run, &c, cmp.fresh); err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	if err := lt.commit(ctx); err != nil {
		return c, fmt.Errorf("list run of %s: %w", run.Feed, err)
	}
	return c, nil
}

// stageEntries reads the whole stream into the sorter. A staged value is
// the feed's first and last seen (Unix seconds, 0 for none) and the
// encoded attributes.
func stageEntries(ctx context.Context, sorter *stage.Sorter, entries ListEntries, c *ListCounts) error {
	var k, v []byte
	for {
		if c.Entries%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		e, err := entries.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read entry %d: %w", c.Entries+1, err)
		}
		c.Entries++
		if !e.Prefix.IsValid() {
			return fmt.Errorf("entry %d: invalid address or network: %w", c.Entries, ErrBadEntry)
		}
		p := e.Prefix.Masked()
		if p.Addr().Is4In6() {
			// An IPv4-mapped network is the IPv4 network.
			if p.Bits() < 96 {
				return fmt.Errorf("entry %d: %s mixes IPv6 and IPv4-mapped space: %w", c.Entries, e.Prefix, ErrBadEntry)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		a := p.Addr().As16()
		k = append(k[:0], a[:]...)
		if p.IsSingleIP() {
			k = append(k, 0)
		} else {
			bits := p.Bits()
			if p.Addr().Is4() {
				bits += 96
			}
			k = append(k, byte(bits+1))
		}
		k = binary.BigEndian.AppendUint64(k, uint64(c.Entries))
		v = binary.AppendVarint(v[:0], unixOrZero(e.FirstSeen))
		v = binary.AppendVarint(v, unixOrZero(e.LastSeen))
		if v, err = appendListAttrs(v, e.Attrs); err != nil {
			return fmt.Errorf("entry %d (%s): %w", c.Entries, p, err)
		}
		if err := sorter.Add(k, v); err != nil {
			return fmt.Errorf("stage entries: %w", err)
		}
	}
}

// storedKey is the stored key of a staged sort key.
func storedKey(sortKey []byte) []byte {
	if sortKey[16] == 0 {
		return sortKey[:16]
	}
	b := append([]byte(nil), sortKey[:16]...)
	return append(b, sortKey[16]-1)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// listTx is a list run's transaction, with its staging tables.
type listTx struct {
	tx   *tx
	conn *sql.Conn // PostgreSQL: the run's own connection, for COPY
	done bool
}

// The run's staging tables: the entries to write (new, changed, listed
// again, or due for a refreshed observation), one row per host or
// network; the keys to delist; the indicators whose listings change (with
// the prediction of those listed anew), and (SQLite) their listings once
// the memberships are written.
const (
	listStage   = "forewarn_list_stage"
	listGone    = "forewarn_list_gone"
	listTouched = "forewarn_list_touched"
	listAgg     = "forewarn_list_agg"
)

func (s *Store) beginList(ctx context.Context) (*listTx, error) {
	lt := &listTx{}
	blob, int64T, tail := "BLOB", "INTEGER", " WITHOUT ROWID"
	if s.d == postgresDialect {
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		t, err := conn.BeginTx(ctx, nil)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("begin: %w", err)
		}
		lt.conn, lt.tx = conn, &tx{Tx: t, d: postgresDialect}
		blob, int64T, tail = "bytea", "bigint", " ON COMMIT DROP"
		if err := lockWrites(ctx, lt.tx); err != nil {
			lt.close()
			return nil, err
		}
	} else {
		t, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		lt.tx = t
	}
	// On SQLite a temporary table lives on the connection: commit drops
	// them, and their creation rolls back with the run.
	for _, q := range []string{
		`CREATE TEMPORARY TABLE ` + listStage + ` (ip ` + blob + ` PRIMARY KEY, first_seen ` + int64T + `,
			last_seen ` + int64T + `, attrs ` + blob + `, hash ` + int64T + ` NOT NULL, relist ` + int64T + ` NOT NULL,
			stored ` + int64T + ` NOT NULL)` + tail,
		`CREATE TEMPORARY TABLE ` + listGone + ` (ip ` + blob + ` PRIMARY KEY)` + tail,
		`CREATE TEMPORARY TABLE ` + listTouched + ` (ip ` + blob + ` PRIMARY KEY, p_at ` + int64T + `, p_cat TEXT)` + tail,
	} {
		if _, err := lt.tx.ExecContext(ctx, q); err != nil {
			lt.close()
			return nil, fmt.Errorf("create the staging tables: %w", err)
		}
	}
	if lt.tx.d == sqliteDialect {
		// recomputeListings' aggregate (SQLite only).
		if _, err := lt.tx.ExecContext(ctx, `CREATE TEMPORARY TABLE `+listAgg+` (ip BLOB PRIMARY KEY, n INTEGER NOT NULL,
			miss REAL, feeds TEXT, sources TEXT, conf0 INTEGER, conf1 INTEGER) WITHOUT ROWID`); err != nil {
			lt.close()
			return nil, fmt.Errorf("create the staging tables: %w", err)
		}
	}
	return lt, nil
}

// writeLock is the PostgreSQL advisory lock every feed run's write
// transaction takes (list runs and Seclytics'), so that their commits are
// serialised as SQLite's single writer serialises them: two runs that
// recompute the same indicators never deadlock, and downloads and parsing
// still overlap.
const writeLock = `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':forewarn:write'))`

// lockWrites takes writeLock for the transaction, waiting for the run
// that holds it (or for ctx).
func lockWrites(ctx context.Context, t *tx) error {
	if _, err := t.ExecContext(ctx, writeLock); err != nil {
		return fmt.Errorf("wait for the other feed runs' writes: %w", err)
	}
	return nil
}

// close rolls back an uncommitted run and releases its connection.
func (lt *listTx) close() {
	if !lt.done {
		lt.done = true
		lt.tx.Rollback()
	}
	if lt.conn != nil {
		lt.conn.Close()
		lt.conn = nil
	}
}

func (lt *listTx) commit(ctx context.Context) error {
	if lt.tx.d == sqliteDialect {
		for _, t := range []string{listStage, listGone, listTouched, listAgg} {
			if _, err := lt.tx.ExecContext(ctx, `DROP TABLE temp.`+t); err != nil {
				return fmt.Errorf("drop the staging tables: %w", err)
			}
		}
	}
	lt.done = true
	if err := lt.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// listLoadChunk is how many staged rows one statement (SQLite) or one COPY
// (PostgreSQL) carries. 7 columns × 1000 stays under SQLite's 32766
// variables.
const (
	listLoadChunkSQLite   = 1000
	listLoadChunkPostgres = 20000
)

// listCompare walks the staged entries and the feed's stored memberships
// together, both in key order, and stages what must change.
type listCompare struct {
	lt  *listTx
	run *ListRun
	c   *ListCounts
	// fresh counts the memberships the run adds.
	fresh int64
	rows  [][]any // entries to write, not yet loaded
	gone  [][]any // keys to delist, not yet loaded
	chunk int
	// refreshBefore: an unchanged membership observed before it is
	// written anyway, to move observed_last.
	refreshBefore, ageOutBefore int64
}

// storedMembership is the comparison's view of one stored membership: its
// key, its hash and what the run needs to know of its dates, which the
// read works out in SQL (membershipPages.fill).
type storedMembership struct {
	key  []byte
	hash int64
	// listed: the feed lists it; fresh: observed since refreshBefore (an
	// unchanged entry need not be written); aged: not given since
	// ageOutBefore by the feed's last seen, else by observed_last (a
	// cumulative feed delists it).
	listed, fresh, aged bool
}

// The flags a membership read returns, as one integer: fewer columns per
// row is most of a read's cost (each column is a call into SQLite and a
// value through database/sql).
const (
	memberListed = 1 << iota
	memberFresh
	memberAged
)

func (cmp *listCompare) compare(ctx context.Context, it *stage.Iterator) error {
	now := cmp.run.Now.Unix()
	ageOut := int64(cmp.run.AgeOut / time.Second)
	drift := int64(86400)
	if ageOut > 0 {
		drift = max(ageOut/10, 1)
		if cmp.run.Mode == ModeCumulative {
			cmp.ageOutBefore = now - ageOut
		}
	}
	cmp.refreshBefore = now - drift
	cmp.chunk = listLoadChunkSQLite
	if cmp.lt.tx.d == postgresDialect {
		cmp.chunk = listLoadChunkPostgres
	}
	stored := &membershipPages{tx: cmp.lt.tx, feed: cmp.run.Feed, refreshBefore: cmp.refreshBefore, ageOutBefore: cmp.ageOutBefore}
	var cur storedMembership
	have := false
	next := func() (err error) {
		have, err = stored.next(ctx, &cur)
		return err
	}
	if err := next(); err != nil {
		return err
	}
	// entry handles one deduplicated staged entry: the stored memberships
	// before it were not in the run.
	entry := func(k, v []byte) error {
		for have && string(cur.key) < string(k) {
			if err := cmp.absent(ctx, &cur); err != nil {
				return err
			}
			if err := next(); err != nil {
				return err
			}
		}
		// An unchanged entry (most of a re-run) costs its hash alone: the
		// staging row is built only for an entry to write.
		hash := stagedHash(v)
		relist, stored := int64(0), int64(0)
		cmp.c.Listed++
		if have && string(cur.key) == string(k) {
			write := true
			stored = 1
			switch {
			case cur.listed && cur.hash == hash && cur.fresh:
				cmp.c.Unchanged++
				write = false
			case cur.listed && cur.hash == hash:
				cmp.c.Unchanged++
			case cur.listed:
				cmp.c.Updated++
			default:
				cmp.c.Updated++
				relist = 1
			}
			if err := next(); err != nil {
				return err
			}
			if !write {
				return nil
			}
		} else {
			cmp.fresh++
			relist = 1
		}
		row, err := stagedRow(k, v, hash, relist, stored)
		if err != nil {
			return err
		}
		return cmp.add(ctx, &cmp.rows, row)
	}
	var prev, pendK, pendV []byte
	n := 0
	for it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := it.Key()
		if prev != nil && string(prev) == string(k[:netblockLen]) {
			cmp.c.Duplicates++
		} else if pendK != nil {
			if err := entry(storedKey(pendK), pendV); err != nil {
				return err
			}
		}
		prev = append(prev[:0], k[:netblockLen]...)
		pendK, pendV = append(pendK[:0], k[:netblockLen]...), append(pendV[:0], it.Value()...)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read staged entries: %w", err)
	}
	if pendK != nil {
		if err := entry(storedKey(pendK), pendV); err != nil {
			return err
		}
	}
	for have {
		if err := cmp.absent(ctx, &cur); err != nil {
			return err
		}
		if err := next(); err != nil {
			return err
		}
	}
	if err := cmp.flush(ctx, listStage, &cmp.rows); err != nil {
		return err
	}
	return cmp.flush(ctx, listGone, &cmp.gone)
}

// membershipPages reads a feed's stored memberships in key order, a page
// at a time, in the run's transaction: a page is read whole before the
// comparison writes again, so one connection serves both (PostgreSQL
// cannot interleave a result with COPY), and memory holds one page.
type membershipPages struct {
	tx   *tx
	feed string
	// refreshBefore and ageOutBefore are listCompare's, for the flags.
	refreshBefore, ageOutBefore int64
	page                        []storedMembership
	keys                        []byte // the page's keys, end to end
	i                           int
	last                        []byte
	done                        bool
}

// membershipPage is how many memberships one read takes.
var membershipPage = 20000

// next sets m to the next stored membership; false after the last one.
// m.key is valid until the next call.
func (p *membershipPages) next(ctx context.Context, m *storedMembership) (bool, error) {
	if p.i == len(p.page) {
		if p.done {
			return false, nil
		}
		if err := p.fill(ctx); err != nil {
			return false, err
		}
		if len(p.page) == 0 {
			return false, nil
		}
	}
	*m = p.page[p.i]
	p.i++
	return true, nil
}

// membershipFlagsSQL is the flags of a membership row (memberListed,
// memberFresh, memberAged), given refreshBefore and ageOutBefore.
const membershipFlagsSQL = `listed + CASE WHEN observed_last >= ? THEN 2 ELSE 0 END
	+ CASE WHEN COALESCE(last_seen, observed_last) < ? THEN 4 ELSE 0 END`

func (p *membershipPages) fill(ctx context.Context) error {
	q := `SELECT ip, hash, ` + membershipFlagsSQL + ` FROM memberships WHERE feed = ?`
	args := []any{p.refreshBefore, p.ageOutBefore, p.feed}
	if p.last != nil {
		q += ` AND ip > ?`
		args = append(args, p.last)
	}
	rows, err := p.tx.QueryContext(ctx, q+` ORDER BY ip LIMIT ?`, append(args, membershipPage)...)
	if err != nil {
		return fmt.Errorf("read memberships: %w", err)
	}
	defer rows.Close()
	p.page, p.i = p.page[:0], 0
	// The keys are copied into one buffer, sliced once it is whole (it
	// may move while it grows): one allocation per page, not per row.
	p.keys = p.keys[:0]
	var (
		ends []int
		key  sql.RawBytes
	)
	for rows.Next() {
		var (
			m     storedMembership
			flags int64
		)
		if err := rows.Scan(&key, &m.hash, &flags); err != nil {
			return fmt.Errorf("read memberships: %w", err)
		}
		if flags < 0 || flags > memberListed|memberFresh|memberAged {
			return fmt.Errorf("read memberships: flags %d: listed is neither 0 nor 1", flags)
		}
		m.listed, m.fresh, m.aged = flags&memberListed != 0, flags&memberFresh != 0, flags&memberAged != 0
		p.keys = append(p.keys, key...)
		ends = append(ends, len(p.keys))
		p.page = append(p.page, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read memberships: %w", err)
	}
	start := 0
	for i, end := range ends {
		p.page[i].key = p.keys[start:end:end]
		start = end
	}
	p.done = len(p.page) < membershipPage
	if n := len(p.page); n > 0 {
		p.last = append(p.last[:0], p.page[n-1].key...)
	}
	return nil
}

// absent handles a stored membership the run did not give: delisted in
// snapshot mode, or in cumulative mode with an age_out when not given for
// that long.
func (cmp *listCompare) absent(ctx context.Context, m *storedMembership) error {
	if !m.listed {
		return nil
	}
	if cmp.run.Mode == ModeSnapshot || (cmp.ageOutBefore != 0 && m.aged) {
		cmp.c.Delisted++
		return cmp.add(ctx, &cmp.gone, []any{append([]byte(nil), m.key...)})
	}
	cmp.c.Listed++ // a cumulative feed's entry stays listed
	return nil
}

func (cmp *listCompare) add(ctx context.Context, buf *[][]any, row []any) error {
	*buf = append(*buf, row)
	if len(*buf) < cmp.chunk {
		return nil
	}
	table := listStage
	if buf == &cmp.gone {
		table = listGone
	}
	return cmp.flush(ctx, table, buf)
}

func (cmp *listCompare) flush(ctx context.Context, table string, buf *[][]any) error {
	if len(*buf) == 0 {
		return nil
	}
	cols := listStageColumns
	if table == listGone {
		cols = cols[:1]
	}
	err := cmp.lt.insert(ctx, table, cols, *buf)
	clear(*buf)
	*buf = (*buf)[:0]
	return err
}

// stagedRow is a staging table row of a staged entry: its stored key, the
// feed's dates, the attributes, their hash (stagedHash), relist (1: the
// feed lists it anew or again) and stored (1: the feed has a membership of
// it to update, 0: one to add).
func stagedRow(k, v []byte, hash, relist, stored int64) ([]any, error) {
	first, n := binary.Varint(v)
	if n <= 0 {
		return nil, errors.New("staged entry is malformed")
	}
	last, m := binary.Varint(v[n:])
	if m <= 0 {
		return nil, errors.New("staged entry is malformed")
	}
	attrs := v[n+m:]
	var attrCol any
	if len(attrs) > 1 || (len(attrs) == 1 && attrs[0] != 0) {
		attrCol = append([]byte(nil), attrs...)
	}
	return []any{append([]byte(nil), k...), zeroNull(first), zeroNull(last), attrCol, hash, relist, stored}, nil
}

// stagedHash is the hash stored with a membership: FNV-1a (64 bits, as
// hash/fnv's New64a, without its allocation) of the staged value, the
// feed's dates and attributes.
func stagedHash(v []byte) int64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, b := range v {
		h ^= uint64(b)
		h *= prime64
	}
	return int64(h)
}

var listStageColumns = []string{"ip", "first_seen", "last_seen", "attrs", "hash", "relist", "stored"}

// insert loads rows into a staging table: COPY on PostgreSQL, multi-row
// INSERTs on SQLite.
func (lt *listTx) insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if lt.conn != nil {
		err := lt.conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("the PostgreSQL driver connection is a %T, not pgx's", dc)
			}
			_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			return fmt.Errorf("copy to %s: %w", table, err)
		}
		return nil
	}
	one := "(?" + strings.Repeat(",?", len(cols)-1) + ")"
	q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + one + strings.Repeat(","+one, len(rows)-1)
	args := make([]any, 0, len(rows)*len(cols))
	for _, r := range rows {
		args = append(args, r...)
	}
	if _, err := lt.tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("fill %s: %w", table, err)
	}
	return nil
}

// merge applies the staged changes to the store, set-based.
func (lt *listTx) merge(ctx context.Context, run *ListRun, c *ListCounts, fresh int64) error {
	t := lt.tx
	now := run.Now.Unix()
	ageOut := int64(run.AgeOut / time.Second)
	exec := func(what, q string, args ...any) (int64, error) {
		res, err := t.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		n, _ := res.RowsAffected()
		return n, nil
	}

	// The feed's own row first: the confidence recomputed below reads it.
	var (
		oldConf   sql.NullInt64
		oldSource sql.NullString
	)
	err := t.QueryRowContext(ctx, `SELECT confidence, source FROM list_feeds WHERE feed = ?`, run.Feed).Scan(&oldConf, &oldSource)
	if err != nil && !isNoRows(err) {
		return fmt.Errorf("read feed: %w", err)
	}
	v := run.Validators
	// listed is the counter FeedSummary reads: the compare counted what
	// the feed lists once this transaction commits.
	if _, err := exec("record feed", `INSERT INTO list_feeds (feed, source, mode, confidence, age_out, last_run_at,
		etag, last_modified, body_sha256, listed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed) DO UPDATE SET source = excluded.source, mode = excluded.mode,
		confidence = excluded.confidence, age_out = excluded.age_out, last_run_at = excluded.last_run_at,
		etag = excluded.etag, last_modified = excluded.last_modified, body_sha256 = excluded.body_sha256,
		listed = excluded.listed`,
		run.Feed, run.Source, string(run.Mode), run.Confidence, zeroNull(ageOut), now,
		nullString(v.ETag), nullString(v.LastModified), nullString(v.BodySHA256), c.Listed); err != nil {
		return err
	}

	// The existing indicators whose listings change: listed anew or
	// again (with their prediction, which a new membership copies, so
	// that adding the memberships need not look the indicators up again),
	// delisted, or (when the feed's confidence changed) every one it lists.
	if _, err := exec("find new listings", findNewListingsSQL(t.d)); err != nil {
		return err
	}
	if _, err := exec("find delistings", `INSERT INTO `+listTouched+` (ip) SELECT ip FROM `+listGone); err != nil {
		return err
	}
	if (oldConf.Valid && oldConf.Int64 != int64(run.Confidence)) || (oldSource.Valid && oldSource.String != run.Source) {
		if _, err := exec("find listings", `INSERT INTO `+listTouched+` (ip) SELECT m.ip FROM memberships m
			WHERE m.feed = ? AND m.listed = 1 AND NOT EXISTS (SELECT 1 FROM `+listTouched+` t WHERE t.ip = m.ip)`, run.Feed); err != nil {
			return err
		}
	}

	// New indicators, listed by this feed alone (Whitelisted below when
	// the allow-list holds them, as every indicator).
	if c.Created, err = exec("add indicators", `INSERT`+t.d.orFail()+` INTO indicators (ip, status, created_at, updated_at, listings, l_miss,
		confidence, l_feeds, l_sources)
		SELECT s.ip, 'Active', ?, ?, 1, ?, ?, ?, ? FROM `+listStage+` s
		WHERE s.relist = 1 AND NOT EXISTS (SELECT 1 FROM indicators i WHERE i.ip = s.ip)`,
		now, now, 1-float64(run.Confidence)/100, run.Confidence, run.Feed, run.Source); err != nil {
		return err
	}
	c.Updated += fresh - c.Created
	if c.Created > 0 {
		// An address a purge deleted starts at its next generation.
		if err := applyTombstones(ctx, t); err != nil {
			return err
		}
	}

	// The memberships. A new one carries its indicator's prediction
	// (p_at, p_cat: the lead-time report's copy, SQLite migration 024): on
	// SQLite as found above (an indicator added by this run has none); an
	// existing one keeps its own, which the indicator's triggers keep
	// true. PostgreSQL upserts them; SQLite updates the stored ones and
	// adds the new ones in two statements, as it runs an upsert's update
	// with ABORT whatever the statement says (see orFail).
	const addMemberships = `INTO memberships (feed, ip, listed, first_seen, last_seen,
		observed_first, observed_last, delisted_at, attrs, hash, p_at, p_cat)
		SELECT ?, s.ip, 1, s.first_seen, s.last_seen, ?, ?, NULL, s.attrs, s.hash, `
	if t.d == postgresDialect {
		if _, err := exec("write memberships", `INSERT `+addMemberships+`i.s_predicted_at, i.s_predicted_category
			FROM `+listStage+` s LEFT JOIN indicators i ON i.ip = s.ip AND i.s_predicted_at IS NOT NULL WHERE true
			ON CONFLICT (feed, ip) DO UPDATE SET listed = 1, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			observed_last = excluded.observed_last, delisted_at = NULL, attrs = excluded.attrs, hash = excluded.hash`,
			run.Feed, now, now); err != nil {
			return err
		}
	} else {
		if _, err := exec("update memberships", updateMembershipsSQL(t.d), now, run.Feed); err != nil {
			return err
		}
		if _, err := exec("add memberships", `INSERT`+t.d.orFail()+` `+addMemberships+`t.p_at, t.p_cat
			FROM `+listStage+` s LEFT JOIN `+listTouched+` t ON t.ip = s.ip WHERE s.stored = 0`,
			run.Feed, now, now); err != nil {
			return err
		}
	}
	if _, err := exec("delist", `UPDATE`+t.d.orFail()+` memberships SET listed = 0, delisted_at = ?
		WHERE feed = ? AND ip IN (SELECT ip FROM `+listGone+`)`, now, run.Feed); err != nil {
		return err
	}
	if err := recomputeListings(ctx, t, listTouched, now); err != nil {
		return err
	}
	if c.Whitelisted, err = whitelist(ctx, t, run.Allowlist, now); err != nil {
		return err
	}
	return addCount(ctx, t, "indicators", c.Created)
}

// missAggSQL is l_miss of one indicator as an aggregate over its listed
// memberships m joined with their feeds f (none: f.feed is NULL): the
// product of (1 - confidence/100) over the list feeds listing it, as
// exp(sum(ln)), with a feed of confidence 100 making it 0; NULL when none
// lists it.
const missAggSQL = `CASE WHEN COUNT(f.feed) = 0 THEN NULL WHEN MAX(f.confidence) >= 100 THEN 0
	ELSE exp(SUM(ln(CASE WHEN f.confidence >= 100 THEN 0.5 ELSE 1 - f.confidence / 100.0 END))) END`

// confidenceSQL is the combined confidence of an indicator from its l_miss
// and s_listed: a noisy-OR of every listing source,
// round(100 * (1 - Π(1 - c_i/100))), rounded half up; NULL when no source
// lists it. The epsilon keeps a product that floating point puts a hair
// under a half (exp of a sum of logarithms) rounding as arithmetic would.
func confidenceSQL(lmiss, slisted string) string {
	return `CASE WHEN ` + lmiss + ` IS NULL AND ` + slisted + ` = 0 THEN NULL
		ELSE CAST(floor(100 * (1 - COALESCE(` + lmiss + `, 1) * (1 - ` + strconv.FormatFloat(SeclyticsConfidence/100.0, 'f', -1, 64) +
		` * ` + slisted + `)) + 0.5 + 1e-9) AS INTEGER) END`
}

// recomputeListings sets listings, l_miss, l_feeds, l_sources, confidence
// and status of the indicators in the touched table: Active while a source
// lists it, Expired when none does, Whitelisted and Review kept. It
// aggregates the touched indicators' listed memberships (by the
// memberships_ip index) and rewrites each indicator once: a row written
// twice costs its indexes twice. On SQLite the aggregate goes to listAgg
// first, with the confidence for either value of s_listed, so that the
// indicators' update calls no SQL function: in SQLite a function call in a
// write makes it keep a statement journal, a copy of every page it changes
// (see orFail).
func recomputeListings(ctx context.Context, t *tx, touched string, now int64) error {
	agg := `SELECT t.ip, COUNT(f.feed) AS n, ` + missAggSQL + ` AS miss,
			string_agg(f.feed, ? ORDER BY f.feed) AS feeds, string_agg(f.source, ? ORDER BY f.feed) AS sources
			FROM ` + touched + ` t LEFT JOIN memberships m ON m.ip = t.ip AND m.listed = 1
			LEFT JOIN list_feeds f ON f.feed = m.feed GROUP BY t.ip`
	if t.d == postgresDialect {
		if _, err := t.ExecContext(ctx, `UPDATE indicators SET updated_at = ?, listings = a.n, l_miss = a.miss,
		l_feeds = a.feeds, l_sources = a.sources, confidence = `+confidenceSQL("a.miss", "indicators.s_listed")+`,
		status = CASE WHEN indicators.status IN ('Whitelisted', 'Review') THEN indicators.status
			WHEN a.n > 0 OR indicators.s_listed = 1 THEN 'Active' ELSE 'Expired' END
		FROM (`+agg+`) a WHERE indicators.ip = a.ip`, now, listSep, listSep); err != nil {
			return fmt.Errorf("recompute listings, status and confidence: %w", err)
		}
		return nil
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO `+listAgg+` (ip, n, miss, feeds, sources, conf0, conf1)
		SELECT ip, n, miss, feeds, sources, `+confidenceSQL("miss", "0")+`, `+confidenceSQL("miss", "1")+`
		FROM (`+agg+`) a`, listSep, listSep); err != nil {
		return fmt.Errorf("aggregate listings: %w", err)
	}
	if _, err := t.ExecContext(ctx, recomputeSQL(t.d), now); err != nil {
		return fmt.Errorf("recompute listings, status and confidence: %w", err)
	}
	return nil
}

// findNewListingsSQL adds to the touched table the existing indicators the
// run lists anew or again, on SQLite with their predictions (for the new
// memberships), reading the staging table in key order. PostgreSQL looks
// the predictions up as it writes the memberships, as before: the touched
// table's copy was not measured to help it.
func findNewListingsSQL(d dialect) string {
	if d == postgresDialect {
		return `INSERT INTO ` + listTouched + ` (ip) SELECT s.ip FROM ` + listStage + ` s
		WHERE s.relist = 1 AND EXISTS (SELECT 1 FROM indicators i WHERE i.ip = s.ip)`
	}
	return `INSERT INTO ` + listTouched + ` (ip, p_at, p_cat)
		SELECT s.ip, i.s_predicted_at, CASE WHEN i.s_predicted_at IS NULL THEN NULL ELSE i.s_predicted_category END
		FROM ` + listStage + ` s JOIN indicators i ON i.ip = ` + d.drives("s.ip") + ` WHERE s.relist = 1`
}

// updateMembershipsSQL updates the feed's stored memberships of the
// staged entries (arguments: the run's time, the feed), reading the
// staging table in key order.
func updateMembershipsSQL(d dialect) string {
	return `UPDATE` + d.orFail() + ` memberships SET listed = 1, first_seen = s.first_seen,
		last_seen = s.last_seen, observed_last = ?, delisted_at = NULL, attrs = s.attrs, hash = s.hash
		FROM ` + listStage + ` s WHERE s.stored = 1 AND memberships.feed = ? AND memberships.ip = ` + d.drives("s.ip")
}

// recomputeSQL writes the aggregated listings of listAgg into their
// indicators (argument: the run's time), reading listAgg in key order.
func recomputeSQL(d dialect) string {
	return `UPDATE` + d.orFail() + ` indicators SET updated_at = ?, listings = a.n, l_miss = a.miss,
		l_feeds = a.feeds, l_sources = a.sources,
		confidence = CASE WHEN indicators.s_listed = 1 THEN a.conf1 ELSE a.conf0 END,
		status = CASE WHEN indicators.status IN ('Whitelisted', 'Review') THEN indicators.status
			WHEN a.n > 0 OR indicators.s_listed = 1 THEN 'Active' ELSE 'Expired' END
		FROM ` + listAgg + ` a WHERE indicators.ip = ` + d.drives("a.ip")
}

// seclyticsUpdate is the value a Seclytics write gives column col of an
// indicator the store holds: its status stays Active while a list feed
// lists it, whatever Seclytics' own lifecycle says, and its confidence
// combines Seclytics' with the list feeds'.
func seclyticsUpdate(d dialect, col string) string {
	switch col {
	case "status":
		return `CASE WHEN excluded.status = 'Expired' AND indicators.listings > 0 THEN 'Active' ELSE excluded.status END`
	case "confidence":
		return confidenceSQL("indicators.l_miss", "excluded.s_listed")
	}
	return "excluded." + col
}
