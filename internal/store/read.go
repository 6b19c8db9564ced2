package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// runTimes resolves run ids to start times for attribute timestamps. It
// caches them: a run's start never changes, and an id it does not know
// (a newer run) makes it read the table again.
type runTimes struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

// runTimesFor returns a resolver that knows every run id st refers to,
// reading the runs table again only when st names a run it has not seen.
func (s *Store) runTimesFor(ctx context.Context, st *merge.Stored) (func(int64) time.Time, error) {
	rt := &s.runTimes
	rt.mu.Lock()
	defer rt.mu.Unlock()
	missing := rt.m == nil
	for slot := merge.Slot(0); slot < merge.NumSlots && !missing; slot++ {
		if st != nil && st.Has.Has(slot) {
			_, ok1 := rt.m[st.Created[slot]]
			_, ok2 := rt.m[st.Updated[slot]]
			missing = !ok1 || !ok2
		}
	}
	if st == nil || missing {
		rows, err := s.r.QueryContext(ctx, `SELECT id, started_at FROM runs`)
		if err != nil {
			return nil, fmt.Errorf("read run times: %w", err)
		}
		defer rows.Close()
		m := map[int64]time.Time{}
		for rows.Next() {
			var id, ms int64
			if err := rows.Scan(&id, &ms); err != nil {
				return nil, fmt.Errorf("read run times: %w", err)
			}
			m[id] = time.UnixMilli(ms).UTC()
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read run times: %w", err)
		}
		rt.m = m
	}
	m := rt.m // replaced, never modified, so safe to read without the lock
	return func(id int64) time.Time { return m[id] }, nil
}

// querier is what reads need: the read pool, or one read transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Lookup returns the indicator for addr, or an error wrapping ErrNotFound.
func (s *Store) Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error) {
	return s.lookup(ctx, s.r, addr)
}

func (s *Store) lookup(ctx context.Context, q querier, addr netip.Addr) (indicator.Indicator, error) {
	addr = addr.Unmap()
	var st merge.Stored
	if err := scanStored(q.QueryRowContext(ctx, selectStored+` WHERE ip = ?`, key(addr)), &st); err != nil {
		if isNoRows(err) {
			return indicator.Indicator{}, fmt.Errorf("%s: %w", addr, ErrNotFound)
		}
		return indicator.Indicator{}, err
	}
	rt, err := s.runTimesFor(ctx, &st)
	if err != nil {
		return indicator.Indicator{}, err
	}
	ind := st.Indicator(rt)
	if ind.Feeds, err = listingsOf(ctx, q, &st, key(addr)); err != nil {
		return indicator.Indicator{}, err
	}
	return ind, nil
}

// listingsOf is every feed's listing of the indicator stored as st under k,
// with the feeds' dates: Seclytics' from its columns (Predicted At, Last
// Seen At), the list feeds' from their memberships, listed or not.
func listingsOf(ctx context.Context, q querier, st *merge.Stored, k []byte) ([]indicator.Listing, error) {
	var out []indicator.Listing
	if st.Has != 0 {
		l := indicator.Listing{Feed: merge.SeclyticsFeed, Source: indicator.SourceSeclytics, Listed: st.SListed}
		if st.Has.Has(merge.PredictedAt) {
			t := indicator.Time(st.PredictedAt)
			l.FirstSeen = &t
		}
		if st.Has.Has(merge.LastSeenAt) {
			t := indicator.Time(st.LastSeenAt)
			l.LastSeen = &t
		}
		out = append(out, l)
	}
	ms, err := memberships(ctx, q, [][]byte{k})
	if err != nil {
		return nil, err
	}
	for _, m := range ms[string(k)] {
		out = append(out, indicator.Listing{Feed: m.Feed, Source: m.Source, Listed: m.Listed, FirstSeen: m.FirstSeen, LastSeen: m.LastSeen})
	}
	return out, nil
}

// LookupStored returns the stored form of addr (for tests and diagnostics).
func (s *Store) LookupStored(ctx context.Context, addr netip.Addr) (merge.Stored, error) {
	var st merge.Stored
	err := scanStored(s.r.QueryRowContext(ctx, selectStored+` WHERE ip = ?`, key(addr.Unmap())), &st)
	if isNoRows(err) {
		err = fmt.Errorf("%s: %w", addr, ErrNotFound)
	}
	return st, err
}

// EachIndicator calls fn for every indicator in address order (IPv4 first,
// numerically; a network after the address it starts at), streaming:
// memory does not grow with the store.
func (s *Store) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	return s.EachIndicatorNetblock(ctx, func(ind *indicator.Indicator, _ netip.Prefix) error { return fn(ind) })
}

// Stats counts what the store holds.
type Stats struct {
	Indicators int64
	ByStatus   map[indicator.Status]int64
}

// Stats returns indicator counts.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByStatus: map[indicator.Status]int64{}}
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM indicators GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("count indicators: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return st, err
		}
		st.ByStatus[indicator.Status(status)] = n
		st.Indicators += n
	}
	return st, rows.Err()
}

// Snapshot is a read-only view of the store as of its first read: every
// read through it sees the same committed state, whatever runs commit
// meanwhile, so that answers built from several reads (a netblock index and
// the lookups it serves) agree with each other. It holds one read
// connection, and keeps the write-ahead log from being folded back past its
// state, until Close: keep it short.
type Snapshot struct {
	s  *Store
	tx *tx
}

// Snapshot begins a read-only view of the store.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	// PostgreSQL's default isolation gives each statement its own
	// snapshot; SQLite's read transaction is one snapshot already.
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d == postgresDialect {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin read snapshot: %w", err)
	}
	return &Snapshot{s: s, tx: tx}, nil
}

// Lookup is Store.Lookup in the snapshot.
func (sn *Snapshot) Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error) {
	return sn.s.lookup(ctx, sn.tx, addr)
}

// EachNetblockMember is Store.EachNetblockMember in the snapshot.
func (sn *Snapshot) EachNetblockMember(ctx context.Context, fn func(*NetblockMember) error) error {
	return eachNetblockMember(ctx, sn.tx, fn)
}

// EachNetblockMemberOf is Store.EachNetblockMemberOf in the snapshot.
func (sn *Snapshot) EachNetblockMemberOf(ctx context.Context, netblocks []netip.Prefix, fn func(*NetblockMember) error) error {
	return eachNetblockMemberOf(ctx, sn.tx, netblocks, fn)
}

// Close ends the snapshot. It is safe to call more than once.
func (sn *Snapshot) Close() error {
	if err := sn.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("end read snapshot: %w", err)
	}
	return nil
}

// lookupChunk is how many addresses one LookupMany query asks for.
const lookupChunk = 500

// LookupMany returns the indicators of those of addrs the store holds, in
// no particular order, with one query per 500 addresses instead of one per
// address: a retro-hunt asks about thousands of addresses at a time, most
// of them unknown.
func (s *Store) LookupMany(ctx context.Context, addrs []netip.Addr) ([]indicator.Indicator, error) {
	var out []indicator.Indicator
	args := make([]any, 0, lookupChunk)
	for start := 0; start < len(addrs); start += lookupChunk {
		chunk := addrs[start:min(start+lookupChunk, len(addrs))]
		args = args[:0]
		for _, a := range chunk {
			args = append(args, key(a.Unmap()))
		}
		rows, err := s.r.QueryContext(ctx, selectStored+` WHERE ip IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("look up addresses: %w", err)
		}
		var stored []merge.Stored
		for rows.Next() {
			var st merge.Stored
			if err := scanStored(rows, &st); err != nil {
				rows.Close()
				return nil, err
			}
			stored = append(stored, st)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up addresses: %w", err)
		}
		for i := range stored {
			rt, err := s.runTimesFor(ctx, &stored[i])
			if err != nil {
				return nil, err
			}
			out = append(out, stored[i].Indicator(rt))
		}
	}
	return out, nil
}
