package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// The orders an output profile's budget ranks Active indicators by.
const (
	// RankImportance: highest Importance first (none lowest), ties by
	// address, the higher first. Reads indicators_active_importance.
	RankImportance = "importance"
	// RankRecency: the latest change first, ties by address, the higher
	// first. Reads indicators_updated.
	RankRecency = "recency"
	// RankConfidence: highest combined confidence first (none lowest),
	// ties by address, the higher first. Reads
	// indicators_active_confidence.
	RankConfidence = "confidence"
)

// rankKeys are the indexed expressions each rank orders by.
var rankKeys = map[string]string{
	RankImportance: importanceKey,
	RankRecency:    "updated_at",
	RankConfidence: "COALESCE(confidence, -1)",
}

// RankFilter narrows the indicators a rank hands out. The zero value
// keeps every Active indicator.
type RankFilter struct {
	// Feeds keeps indicators one of these feeds lists now (their ids;
	// "seclytics" for Seclytics).
	Feeds []string
	// MinSources keeps indicators at least this many feeds list now.
	MinSources int
	// MinConfidence keeps indicators whose combined confidence is at
	// least this (0-100); one no source lists is then left out.
	MinConfidence *int
	// At is when the caller checks expiries (zero: it does not). A
	// sighting keeps an indicator Active past its feed's expiry
	// (expires_at) until its sighted_until: EachRanked, which walks an
	// index holding expires_at alone, then reads the sighted_until of the
	// few whose expires_at is at or before At, so that Ranked.ExpiresAt
	// is the indicator's effective expiry wherever it matters at At. The
	// other reads hand out the effective expiry whatever At is.
	At time.Time
}

// rankQuery is the WHERE of rank by with filter f (without its ORDER BY,
// rankOrder), and its arguments. Only hosts (16-byte keys) are ranked, as
// every export reads them: with hosts, the WHERE says so; without (on
// PostgreSQL, whose planner misjudges length(ip) = 16 into sorting the
// store), the caller skips the networks' rows. The filters are checked on
// the rows the index hands out in order, so a budget still stops after its
// N-th match; a filter that matches few indicators makes the walk longer,
// never a sort.
func rankQuery(by string, f RankFilter, hosts bool) (string, []any, error) {
	if _, ok := rankKeys[by]; !ok {
		return "", nil, fmt.Errorf("rank by %q: use %s, %s or %s: %w", by, RankImportance, RankConfidence, RankRecency, ErrBadQuery)
	}
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(` WHERE status = 'Active'`)
	if hosts {
		b.WriteString(` AND ` + hostKeys)
	}
	if len(f.Feeds) > 0 {
		var or []string
		for _, feed := range f.Feeds {
			if feed == merge.SeclyticsFeed {
				or = append(or, "s_listed = 1")
				continue
			}
			or = append(or, "EXISTS (SELECT 1 FROM memberships m WHERE m.ip = indicators.ip AND m.feed = ? AND m.listed = 1)")
			args = append(args, feed)
		}
		b.WriteString(" AND (" + strings.Join(or, " OR ") + ")")
	}
	if f.MinSources < 0 {
		return "", nil, fmt.Errorf("minimum sources %d: give a number of feeds, 0 or more: %w", f.MinSources, ErrBadQuery)
	}
	if f.MinSources > 0 {
		b.WriteString(" AND listings + s_listed >= ?")
		args = append(args, f.MinSources)
	}
	if f.MinConfidence != nil {
		if v := *f.MinConfidence; v < 0 || v > 100 {
			return "", nil, fmt.Errorf("minimum confidence %d: give a number from 0 to 100: %w", v, ErrBadQuery)
		}
		b.WriteString(" AND confidence >= ?")
		args = append(args, *f.MinConfidence)
	}
	return b.String(), args, nil
}

// rankOrder is the ORDER BY of rank by: its index's order.
func rankOrder(by string) string { return " ORDER BY " + rankKeys[by] + " DESC, ip DESC" }

// Ranked reads on PostgreSQL go by pages of rankPage rows, growing
// fourfold up to rankPageMax, each starting after the last row of the one
// before: a LIMIT is what makes PostgreSQL's planner walk the index
// instead of sorting every Active row before handing out the first.
const (
	rankPage    = 2048
	rankPageMax = 65536
)

// withKey scans a row's columns, then its rank key into key.
type withKey struct {
	rows *sql.Rows
	key  any
	dest []any // reused: one allocation per statement, not per row
}

func (w *withKey) Scan(dest ...any) error {
	if w.key == nil { // no rank key (EachActive with by "")
		return w.rows.Scan(dest...)
	}
	w.dest = append(append(w.dest[:0], dest...), w.key)
	return w.rows.Scan(w.dest...)
}

// eachRankedRow runs rank by with filter f, selecting cols (ip first),
// and calls row with each row's scanner until it returns false. row
// returns the row's key (ip), skipped or not, so that the next page starts
// after it, and whether to go on.
//
// SQLite streams the whole ordered walk from one statement, which reads
// the index lazily; PostgreSQL reads it a page at a time (rankPage).
func (s *Store) eachRankedRow(ctx context.Context, by string, f RankFilter, cols string, row func(sc scanner) (ip []byte, more bool, err error)) error {
	paged := s.d == postgresDialect
	first, next, args, err := rankStatements(by, f, cols, paged)
	if err != nil {
		return err
	}
	var key any = new(int64)
	if by == RankImportance {
		key = new(float64)
	}
	var (
		last  []byte
		limit = rankPage
	)
	for {
		query, qargs := first, args
		if paged {
			if last != nil {
				var kv any
				switch v := key.(type) {
				case *float64:
					kv = *v
				case *int64:
					kv = *v
				}
				query, qargs = next, append(slices.Clip(args), kv, last)
			}
			qargs = append(slices.Clip(qargs), limit)
		}
		n, more, err := s.rankedPage(ctx, query, qargs, key, row, &last)
		if err != nil {
			return fmt.Errorf("rank indicators by %s: %w", by, err)
		}
		if !more || !paged || n < limit {
			return nil
		}
		limit = min(limit*4, rankPageMax)
	}
}

// rankStatements are the statements of rank by with filter f selecting
// cols, then the rank key: unpaged, first is the whole walk; paged, first
// is the first page (its last argument the LIMIT) and next a page after a
// row (its last three: that row's rank key and ip, and the LIMIT).
func rankStatements(by string, f RankFilter, cols string, paged bool) (first, next string, args []any, err error) {
	where, args, err := rankQuery(by, f, !paged)
	if err != nil {
		return "", "", nil, err
	}
	k := rankKeys[by]
	q := `SELECT ` + cols + `, ` + k + ` FROM indicators` + where
	if !paged {
		return q + rankOrder(by), "", args, nil
	}
	return q + rankOrder(by) + ` LIMIT ?`, q + ` AND (` + k + `, ip) < (?, ?)` + rankOrder(by) + ` LIMIT ?`, args, nil
}

// rankedPage runs one statement of eachRankedRow: how many rows it read,
// and whether row asked for more; *last is the last row's key.
func (s *Store) rankedPage(ctx context.Context, query string, args []any, key any, row func(scanner) ([]byte, bool, error), last *[]byte) (int, bool, error) {
	rows, err := s.x.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	n := 0
	sc := &withKey{rows: rows, key: key}
	for rows.Next() {
		n++
		ip, more, err := row(sc)
		if err != nil {
			return n, false, err
		}
		*last = ip
		if !more {
			return n, false, nil
		}
	}
	return n, true, rows.Err()
}

// Ranked is one Active indicator as a budget ranks it.
type Ranked struct {
	Addr netip.Addr
	// ExpiresAt is when it expires, a sighting keeping it past the feed's
	// expiry as Indicator does (EachRanked: see RankFilter.At); zero:
	// never.
	ExpiresAt time.Time
	by        string
	key       float64 // its rank key (Rank)
}

// Rank is its rank value, as a person reads it: the importance or the
// confidence ("none" without one), or the time of its last change.
// Worked out when asked for (a budget asks for its last one's): a 1M
// walk spent a tenth of its time writing numbers nobody read.
func (r Ranked) Rank() string { return rankText(r.by, r.key) }

// rankText is a rank value as a person reads it.
func rankText(by string, v float64) string {
	switch {
	case by == RankRecency:
		return indicator.FormatTime(int64(v))
	case v < 0:
		return "none"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

// rankedKey keeps a ranked row's key ip in *last, for paging, and returns
// its address; ok is false for a network's key, which the ranked reads
// skip (PostgreSQL does not leave networks out in SQL).
func rankedKey(ip []byte, last *[]byte) (addr netip.Addr, ok bool, err error) {
	*last = append((*last)[:0], ip...)
	if len(ip) != 16 {
		return netip.Addr{}, false, nil
	}
	addr, err = addrFromKey(ip)
	return addr, err == nil, err
}

// EachRanked calls fn with the Active indicators f keeps in the order by
// (RankImportance, RankConfidence or RankRecency), best first, until fn
// returns false. It reads an index in that order, so a budget of N reads
// about N entries whatever the store's size. Ties are broken by address,
// so the order is the same from one call to the next while nothing
// changes.
func (s *Store) EachRanked(ctx context.Context, by string, f RankFilter, fn func(Ranked) bool) error {
	var (
		ip      sql.RawBytes
		last    []byte // the row's key, kept past the row for paging
		expires sql.NullInt64
		sighted map[string]int64
		at      = f.At.Unix()
	)
	if !f.At.IsZero() {
		var err error
		if sighted, err = s.readSightedPast(ctx, at); err != nil {
			return err
		}
	}
	return s.eachRankedRow(ctx, by, f, `ip, expires_at`, func(sc scanner) ([]byte, bool, error) {
		if err := sc.Scan(&ip, &expires); err != nil {
			return nil, false, err
		}
		addr, ok, err := rankedKey(ip, &last)
		if !ok || err != nil {
			return last, err == nil, err
		}
		r := Ranked{Addr: addr.Unmap(), by: by, key: sc.(*withKey).keyFloat()}
		if expires.Valid {
			e := expires.Int64
			if e <= at {
				e = max(e, sighted[string(ip)])
			}
			r.ExpiresAt = indicator.Time(e)
		}
		return last, fn(r), nil
	})
}

// sightedPastSQL reads the Active indicators whose feed expiry is at or
// before a time and whose last sighting keeps them Active past it:
// through the partial index indicators_expiry, whose range up to the
// time holds only these and the ones the expiry job has yet to mark.
const sightedPastSQL = `SELECT ip, sighted_until FROM indicators WHERE ` + sightedPast

// sightedPast is sightedPastSQL's condition; its two arguments are the
// time.
const sightedPast = `status = 'Active' AND expires_at <= ? AND sighted_until > ?`

// readSightedPast returns the sighted_until of each Active indicator that a
// sighting keeps Active past its expires_at at at, by key.
func (s *Store) readSightedPast(ctx context.Context, at int64) (map[string]int64, error) {
	rows, err := s.x.QueryContext(ctx, sightedPastSQL, at, at)
	if err != nil {
		return nil, fmt.Errorf("read sighted indicators: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	var (
		ip    []byte
		until int64
	)
	for rows.Next() {
		if err := rows.Scan(&ip, &until); err != nil {
			return nil, fmt.Errorf("read sighted indicators: %w", err)
		}
		out[string(ip)] = until
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sighted indicators: %w", err)
	}
	return out, nil
}

// keyFloat is the rank key just scanned, as a number.
func (w *withKey) keyFloat() float64 {
	switch v := w.key.(type) {
	case *float64:
		return *v
	case *int64:
		return float64(*v)
	}
	return 0
}

// rankedBatch is how many addresses EachIndicatorAt reads per statement.
const rankedBatch = 500

// EachIndicatorAt calls fn for the indicators at addrs, which must be in
// address order, with their lookup netblocks (as EachIndicatorNetblock),
// reading them by key a batch at a time: a budget's N indicators cost N
// key lookups, not a pass over the store. It reads them as
// EachRankedIndicator does (the attributes attrs names, nil: every one;
// no attribute times, no sightings), into one indicator reused from row
// to row: fn's is valid only until it returns. An address the store no
// longer holds is skipped.
func (s *Store) EachIndicatorAt(ctx context.Context, addrs []netip.Addr, attrs []string, fn func(*indicator.Indicator, netip.Prefix) error) error {
	slots, err := slotsOf(attrs)
	if err != nil {
		return err
	}
	cols, skip := renderColumns(slots, AllFields|fieldStatus)
	var (
		st  merge.Stored
		row = storedRow{noRuns: true, flag: true, skip: skip, raw: true}
		ind indicator.Indicator
	)
	q := func(n int) string {
		return `SELECT ` + cols + ` FROM indicators WHERE ip IN (?` + strings.Repeat(",?", n-1) + `) ORDER BY ip`
	}
	// The full batches' statement, prepared once: parsing it per batch
	// was 7% of a 1M-entry render.
	var full *sql.Stmt
	if len(addrs) >= 2*rankedBatch {
		if full, err = s.x.PrepareContext(ctx, q(rankedBatch)); err != nil {
			return fmt.Errorf("read indicators: %w", err)
		}
		defer full.Close()
	}
	args := make([]any, 0, rankedBatch)
	for len(addrs) > 0 {
		n := min(len(addrs), rankedBatch)
		args = args[:0]
		for _, a := range addrs[:n] {
			args = append(args, key(a))
		}
		addrs = addrs[n:]
		err := func() error {
			var (
				rows *sql.Rows
				err  error
			)
			if n == rankedBatch && full != nil {
				rows, err = full.QueryContext(ctx, args...)
			} else {
				rows, err = s.x.QueryContext(ctx, q(n), args...)
			}
			if err != nil {
				return fmt.Errorf("read indicators: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := row.scan(rows, &st); err != nil {
					return err
				}
				st.IndicatorInto(&ind, nil, slots, row.seclytics != 0)
				if err := fn(&ind, st.LookupNetblock); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// CountActive counts the Active indicators (hosts: networks are not
// ranked) up to limit: a budget at least as large as the count keeps
// every one its filters pass, so it need not rank them (EachActive). It
// reads the ranking index, at most limit entries of it.
func (s *Store) CountActive(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.x.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM indicators WHERE status = 'Active' AND `+hostKeys+
		` LIMIT ?) AS a`, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count Active indicators: %w", err)
	}
	return n, nil
}

// Fields are the parts of an indicator besides its attributes that a
// one-pass read (EachActive) hands out: the ones left out read as zero
// (no Sources, no times, no expiry, no Confidence) and their columns are
// neither read nor handed out by the database, which costs per column
// (a 1M-entry csv spent more time handing out its 24 columns than
// SQLite spent reading them).
type Fields uint8

const (
	// FieldTimes are CreatedAt and UpdatedAt.
	FieldTimes Fields = 1 << iota
	// FieldExpiry is ExpiresAt.
	FieldExpiry
	// FieldSources are Sources and Feeds (the feeds that carry it).
	FieldSources
	// FieldListed is whether Seclytics lists it now (the Listed of its
	// Feeds' Seclytics entry, with FieldSources), which ListedBy and
	// ListingSources read.
	FieldListed
	// FieldConfidence is Confidence.
	FieldConfidence
	// FieldGeneration are Generation and RenewedAt (the STIX ids of an
	// indicator brought back after a revocation).
	FieldGeneration
	// fieldStatus is Status, read by the reads that hand out any
	// status (EachIndicatorAt, EachRankedIndicator); EachActive's is
	// Active.
	fieldStatus
	// fieldClusterID reads the cluster's id (s_cluster_id) for its name
	// (clusterNames, storedRow.names).
	fieldClusterID

	// AllFields are every field EachActive can hand out.
	AllFields = FieldTimes | FieldExpiry | FieldSources | FieldListed | FieldConfidence | FieldGeneration
)

// EachActive calls fn for every Active indicator (host) f keeps, in
// address order, with its rank by by (Ranked: for a budget's cut-off and
// its expiry check) and its lookup netblock, reading the indicators as
// EachIndicatorAt does but for what fields leaves out (and Status, which
// is Active): the attributes attrs names, into one indicator reused from
// row to row. It is one pass over the table in key order, with the
// filters checked by the database before a row is handed out: for a
// budget that keeps every Active indicator (CountActive), it costs about
// a third of reading each by key, ranks nothing and holds nothing.
// Without FieldExpiry, Ranked.ExpiresAt is zero too. With by "", it reads
// no rank (Ranked's is zero): a budget larger than the Active set never
// reports its cut-off, and need not read the ranks for it.
func (s *Store) EachActive(ctx context.Context, by string, f RankFilter, attrs []string, fields Fields, fn func(Ranked, *indicator.Indicator, netip.Prefix) error) error {
	slots, err := slotsOf(attrs)
	if err != nil {
		return err
	}
	row := storedRow{noRuns: true, flag: fields&FieldSources != 0, raw: true}
	if slots.Has(merge.Cluster) {
		if row.names, err = s.readClusterNames(ctx); err != nil {
			return err
		}
		fields |= fieldClusterID
	}
	cols, skip := renderColumns(slots, fields)
	row.skip = skip
	var ind indicator.Indicator
	batch := func() *activeRows { return &activeRows{row: &row} }
	return eachActiveBatch(ctx, s, by, f, cols, batch, func(b *activeRows) error {
		for i := range b.n {
			st := &b.st[i]
			st.Status = indicator.StatusActive // the WHERE's, not read
			st.IndicatorInto(&ind, nil, slots, b.seclytics[i])
			r := Ranked{Addr: ind.Addr, by: by, key: b.key[i]}
			if st.ExpiresAt != 0 {
				r.ExpiresAt = indicator.Time(max(st.ExpiresAt, st.SightedUntil)) // as Indicator's
			}
			if err := fn(r, &ind, st.LookupNetblock); err != nil {
				return err
			}
		}
		return nil
	})
}

// activeRows are rows of EachActive scanned in a batch (n of them), with
// their rank keys and whether each has a Seclytics attribute.
type activeRows struct {
	row       *storedRow // the read's, shared by its batches
	n         int
	st        [activeBatch]merge.Stored
	key       [activeBatch]float64
	seclytics [activeBatch]bool
}

func (b *activeRows) add(sc *withKey) (bool, error) {
	if err := b.row.scan(sc, &b.st[b.n]); err != nil {
		return false, err
	}
	b.key[b.n], b.seclytics[b.n] = sc.keyFloat(), b.row.seclytics != 0
	b.n++
	return b.n == activeBatch, nil
}

func (b *activeRows) len() int { return b.n }
func (b *activeRows) reset()   { b.n = 0 }

// activeBatch is how many rows a batch of the one-pass read holds.
const activeBatch = 256

// rowBatch is a batch of rows the one-pass read scans on its reading
// goroutine (eachActiveBatch) and hands to the caller's: what it holds
// must outlive the row (the driver's bytes do not).
type rowBatch interface {
	// add scans sc's row into the batch (or skips it) and reports
	// whether the batch is full.
	add(sc *withKey) (full bool, err error)
	len() int
	reset()
}

// eachActiveBatch runs eachActiveRow on a goroutine of its own, which
// scans the rows into batches (made by newBatch), while fn, on the
// caller's, hands out each batch's: the driver's work is more than half
// a render's CPU, and where a second core is free, a render then takes
// about the larger of the two, not their sum. It is one statement, one
// snapshot, as before; three batches go round, so it holds about 0.5 MB
// whatever the store's size.
func eachActiveBatch[B rowBatch](ctx context.Context, s *Store, by string, f RankFilter, cols string, newBatch func() B, fn func(B) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full, free := make(chan B, 2), make(chan B, 3)
	for range cap(free) {
		free <- newBatch()
	}
	var readErr error
	go func() {
		defer close(full)
		b := <-free
		readErr = s.eachActiveRow(ctx, by, f, cols, func(sc *withKey) error {
			if isFull, err := b.add(sc); err != nil || !isFull {
				return err
			}
			select {
			case full <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
		if readErr == nil && b.len() > 0 {
			full <- b // the caller reads full until it is closed
		}
	}()
	var fnErr error
	for b := range full {
		if fnErr == nil {
			if fnErr = ctx.Err(); fnErr == nil {
				fnErr = fn(b)
			}
			if fnErr != nil {
				cancel() // the reader stops; what it sent is drained
			}
		}
		b.reset()
		free <- b
	}
	if fnErr != nil {
		return fnErr
	}
	return readErr
}

// eachActiveRow runs the one-pass read of EachActive and EachActiveBrief:
// cols, then the rank key by, of every Active host f keeps, in address
// order, handing row each row's scanner.
func (s *Store) eachActiveRow(ctx context.Context, by string, f RankFilter, cols string, row func(sc *withKey) error) error {
	where, args, err := rankQuery(cmp.Or(by, RankImportance), f, true)
	if err != nil {
		return err
	}
	var key any = new(int64)
	switch by {
	case "":
		key = nil
	case RankImportance:
		key = new(float64)
		cols += `, ` + rankKeys[by]
	default:
		cols += `, ` + rankKeys[by]
	}
	rows, err := s.x.QueryContext(ctx, `SELECT `+cols+` FROM indicators`+where+` ORDER BY ip`, args...)
	if err != nil {
		return fmt.Errorf("read Active indicators: %w", err)
	}
	defer rows.Close()
	sc := &withKey{rows: rows, key: key}
	for rows.Next() {
		if err := row(sc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read Active indicators: %w", err)
	}
	return nil
}

// Better reports whether r ranks before o in their rank (both by the
// same): the higher rank value first, ties by address, the higher first,
// as the ranked reads hand them out.
func (r Ranked) Better(o Ranked) bool {
	if r.key != o.key {
		return r.key > o.key
	}
	return bytes.Compare(key(r.Addr), key(o.Addr)) > 0
}

// slotsOf are the slots of the attributes named attrs (nil: every one).
func slotsOf(attrs []string) (merge.Set, error) {
	if attrs == nil {
		return 1<<merge.NumSlots - 1, nil
	}
	var slots merge.Set
	for _, a := range attrs {
		i := slices.Index(merge.Names[:], a)
		if i < 0 {
			return 0, fmt.Errorf("read indicators: no attribute %q: %w", a, ErrBadQuery)
		}
		slots = slots.With(merge.Slot(i))
	}
	return slots, nil
}

// slotColumns are the columns of the Seclytics attributes, by slot, as
// storedColumns names them (the cluster: its name read by id).
var slotColumns = [merge.NumSlots]string{"s_predicted_at", "s_predicted_netblock", "s_predicted_category",
	clusterName, "s_detected_by", "s_detected_identifiers", "s_detected_categories", "s_detected_at",
	"s_last_seen_at", "s_importance", "s_normalized_importance"}

// seclyticsAny is 1 when a row has a Seclytics attribute (merge.Stored.Has
// != 0, which makes Seclytics a source), worked out in SQL, so that a
// read need not select every attribute to know it.
const seclyticsAny = `CASE WHEN s_predicted_at IS NULL AND s_predicted_netblock IS NULL AND s_predicted_category IS NULL
		AND s_cluster_id IS NULL AND s_detected_by IS NULL AND s_detected_identifiers IS NULL
		AND s_detected_categories IS NULL AND s_detected_at IS NULL AND s_last_seen_at IS NULL
		AND s_importance IS NULL AND s_normalized_importance IS NULL THEN 0 ELSE 1 END`

// fieldColumns are the columns of storedColumns each of Fields reads.
var fieldColumns = map[Fields][]string{
	fieldStatus:     {"status"},
	FieldTimes:      {"created_at", "updated_at"},
	FieldExpiry:     {"expires_at", "sighted_until"},
	FieldSources:    {"l_feeds", "l_sources"},
	FieldListed:     {"s_listed"},
	FieldConfidence: {"confidence"},
	FieldGeneration: {"generation", "renewed_at"},
}

// renderColumns are the columns of storedColumns a render reads
// (EachRankedIndicator, EachIndicatorAt with every field and the status;
// EachActive), then seclyticsAny with FieldSources; skip are the ones it
// leaves out (storedRow.skip): the attributes not in slots, the fields not
// in fields, and what no export writes (the attributes' runs, the
// ingest's hash and seen time, the sightings), so SQLite neither reads
// nor hands them out.
func renderColumns(slots merge.Set, fields Fields) (cols string, skip *[numStoredColumns]bool) {
	leave := map[string]bool{"s_attr_runs": true, "s_hash": true, "s_seen_at": true, "sightings": true, "first_sighted": true, "last_sighted": true}
	for s, col := range slotColumns {
		leave[col] = !slots.Has(merge.Slot(s))
	}
	for f, fcols := range fieldColumns {
		for _, c := range fcols {
			leave[c] = fields&f == 0
		}
	}
	skip = new([numStoredColumns]bool)
	var read []string
	for i, c := range storedColumnNames {
		if skip[i] = leave[c]; skip[i] {
			continue
		}
		if c == clusterName && fields&fieldClusterID != 0 {
			c = "s_cluster_id"
		}
		read = append(read, c)
	}
	cols = strings.Join(read, ", ")
	if fields&FieldSources != 0 {
		cols += ", " + seclyticsAny
	}
	return cols, skip
}

// EachRankedIndicator is EachRanked that reads each indicator (with its
// lookup netblock) in the same pass: one lookup per indicator instead of
// two, for a budget small enough to hold in memory. It reads what an
// export writes: the attributes named by attrs (every one when nil),
// without their times (CreatedAt and UpdatedAt zero) and without the
// indicator's sightings, so that a render of a few attributes reads only
// their columns. Each indicator is fn's to keep: no later row reuses it.
func (s *Store) EachRankedIndicator(ctx context.Context, by string, f RankFilter, attrs []string, fn func(Ranked, *indicator.Indicator, netip.Prefix) bool) error {
	slots, err := slotsOf(attrs)
	if err != nil {
		return err
	}
	cols, skip := renderColumns(slots, AllFields|fieldStatus)
	var (
		st  merge.Stored
		row = storedRow{noRuns: true, flag: true, skip: skip, raw: true}
	)
	return s.eachRankedRow(ctx, by, f, cols, func(sc scanner) ([]byte, bool, error) {
		if err := row.scan(sc, &st); err != nil {
			return nil, false, err
		}
		k := key(st.Addr)
		if st.Prefix.IsValid() {
			return prefixKey(st.Prefix), true, nil // a network (PostgreSQL: not filtered in SQL)
		}
		ind := st.IndicatorOf(nil, slots, row.seclytics != 0)
		r := Ranked{Addr: ind.Addr, by: by, key: sc.(*withKey).keyFloat()}
		if st.ExpiresAt != 0 {
			r.ExpiresAt = indicator.Time(max(st.ExpiresAt, st.SightedUntil)) // as Indicator's
		}
		return k, fn(r, &ind, st.LookupNetblock), nil
	})
}

// Brief is the few fields of a ranked indicator that the lean formats
// write (crowdsec: address, expiry, sources, categories; suricata-iprep:
// address, categories, importance), read without
// decoding the indicator's row whole. Its slices belong to the read and
// are valid only until fn returns: the next row reuses them.
type Brief struct {
	Addr netip.Addr
	// ExpiresAt is when it expires, a sighting keeping it past the
	// feed's expiry as Indicator does; zero: never.
	ExpiresAt time.Time
	// Sources are the sources listing it, in an indicator's order
	// (Seclytics first), each once.
	Sources [][]byte
	// Categories are the items of its Detected Categories, sorted.
	Categories [][]byte
	// Importance is its Importance attribute, if HasImportance.
	Importance    float64
	HasImportance bool
	key           float64 // its rank key (Rank)
}

// Rank is b's rank value by rank by, as a person reads it (Ranked.Rank).
func (b *Brief) Rank(by string) string { return rankText(by, b.key) }

// Ranked is b as a rank by by hands it out (to compare and keep past the
// row, which reuses b).
func (b *Brief) Ranked(by string) Ranked {
	return Ranked{Addr: b.Addr, ExpiresAt: b.ExpiresAt, by: by, key: b.key}
}

// BriefFields are the parts of a Brief besides its address and
// categories that EachActiveBrief hands out: the others read as zero, and
// their columns are not read (the database costs per column).
type BriefFields uint8

const (
	// BriefExpiry is ExpiresAt.
	BriefExpiry BriefFields = 1 << iota
	// BriefSources are Sources.
	BriefSources
	// BriefImportance are Importance and HasImportance.
	BriefImportance

	// AllBriefFields are every field of a Brief.
	AllBriefFields = BriefExpiry | BriefSources | BriefImportance
)

// briefColumns are the columns a read of a Brief's fields reads: the
// effective expiry is worked out in SQL (0: never, as the feed's expiry
// 0 or NULL; else the later of it and the last sighting's), and so is
// whether a Seclytics attribute is present (merge.Stored.Has != 0, which
// makes Seclytics a source), not read from the attributes.
func (d dialect) briefColumns(fields BriefFields) string {
	cols := `ip`
	if fields&BriefExpiry != 0 {
		later := "max"
		if d == postgresDialect {
			later = "GREATEST"
		}
		cols += `, CASE WHEN expires_at IS NULL OR expires_at = 0 THEN 0 ELSE ` + later + `(expires_at, COALESCE(sighted_until, 0)) END`
	}
	if fields&BriefSources != 0 {
		cols += `, ` + seclyticsAny + `, l_feeds, l_sources`
	}
	cols += `, s_detected_categories`
	if fields&BriefImportance != 0 {
		cols += `, s_importance`
	}
	return cols
}

var seclyticsSource = []byte(indicator.SourceSeclytics)

// copyBytes copies the key and the lists just scanned into r.buf, grown
// once to hold them all, and points them there.
func (r *briefRow) copyBytes() {
	r.buf = slices.Grow(r.buf[:0], len(r.ip)+len(r.feeds.V)+len(r.sources.V)+len(r.cats.V))
	keep := func(v *sql.RawBytes) {
		n := len(r.buf)
		r.buf = append(r.buf, *v...)
		*v = r.buf[n:len(r.buf):len(r.buf)]
	}
	keep(&r.ip)
	keep(&r.feeds.V)
	keep(&r.sources.V)
	keep(&r.cats.V)
}

// EachRankedBrief is EachRanked that also reads each indicator's Brief:
// only the columns it needs, into buffers reused from row to row, so a
// budget of N costs N index entries and N narrow rows and allocates
// nothing per row. fn must copy what it keeps.
func (s *Store) EachRankedBrief(ctx context.Context, by string, f RankFilter, fn func(*Brief) bool) error {
	var (
		last []byte // the row's key, kept past the row for paging
		r    = briefRow{fields: AllBriefFields}
	)
	return s.eachRankedRow(ctx, by, f, s.d.briefColumns(AllBriefFields), func(sc scanner) ([]byte, bool, error) {
		ok, err := r.scan(sc, &last)
		if !ok || err != nil {
			return last, err == nil, err
		}
		r.b.key = sc.(*withKey).keyFloat()
		return last, fn(&r.b), nil
	})
}

// EachActiveBrief is EachActive for the lean formats: the Brief of every
// Active indicator (host) f keeps, in address order, in one pass over the
// table, with its rank by by (Brief.Rank), valid until fn returns. It
// reads only the fields fields names: the others are zero.
func (s *Store) EachActiveBrief(ctx context.Context, by string, f RankFilter, fields BriefFields, fn func(*Brief) error) error {
	batch := func() *briefRows {
		b := new(briefRows)
		for i := range b.r {
			b.r[i].fields = fields
		}
		return b
	}
	return eachActiveBatch(ctx, s, by, f, s.d.briefColumns(fields), batch, func(b *briefRows) error {
		for i := range b.n {
			r := &b.r[i]
			ok, err := r.decode(&r.last)
			if err != nil {
				return err
			}
			if !ok {
				continue // a network's row: skipped
			}
			if err := fn(&r.b); err != nil {
				return err
			}
		}
		return nil
	})
}

// briefRows are rows of EachActiveBrief scanned in a batch (n of them),
// each into briefs that own their bytes.
type briefRows struct {
	n int
	r [activeBatch]briefRow
}

func (b *briefRows) add(sc *withKey) (bool, error) {
	r := &b.r[b.n]
	if err := r.scanOwn(sc); err != nil {
		return false, err
	}
	r.b.key = sc.keyFloat()
	b.n++
	return b.n == activeBatch, nil
}

func (b *briefRows) len() int { return b.n }
func (b *briefRows) reset()   { b.n = 0 }

// briefRow is what a read of briefColumns scans a row into, reused from
// row to row.
type briefRow struct {
	ip                   sql.RawBytes
	feeds, sources, cats sql.Null[sql.RawBytes] // NULL is not "": one empty item
	expires              int64                  // 0: never
	importance           sql.NullFloat64
	seclytics            int64
	srcs                 [][]byte // reused
	b                    Brief
	fields               BriefFields // the columns read (briefColumns)
	dest                 []any       // what they are scanned into
	// buf holds the row's bytes (scanOwn), reused by the next, so that
	// they outlive the driver's row (a batched read); last is the row's
	// key.
	buf, last []byte
}

// scan reads one row of briefColumns(r.fields) into r.b (its rank key
// aside), keeping the row's key in *last; ok is false for a network's
// row, which the reads skip.
func (r *briefRow) scan(sc scanner, last *[]byte) (ok bool, err error) {
	if err := r.scanRaw(sc); err != nil {
		return false, err
	}
	return r.decode(last)
}

// scanOwn is scan's reading half: it reads the row and copies its bytes
// into r's own buffers, for decode to work out later, on another
// goroutine (a batched read: the reading goroutine is the busier).
func (r *briefRow) scanOwn(sc scanner) error {
	if err := r.scanRaw(sc); err != nil {
		return err
	}
	r.copyBytes()
	return nil
}

// scanRaw reads one row of briefColumns(r.fields) as the driver hands
// it out.
func (r *briefRow) scanRaw(sc scanner) error {
	if r.dest == nil {
		r.dest = append(r.dest, &r.ip)
		if r.fields&BriefExpiry != 0 {
			r.dest = append(r.dest, &r.expires)
		}
		if r.fields&BriefSources != 0 {
			r.dest = append(r.dest, &r.seclytics, &r.feeds, &r.sources)
		}
		r.dest = append(r.dest, &r.cats)
		if r.fields&BriefImportance != 0 {
			r.dest = append(r.dest, &r.importance)
		}
	}
	if err := sc.Scan(r.dest...); err != nil {
		return fmt.Errorf("read indicator: %w", err)
	}
	return nil
}

// decode works out r.b (its rank key aside) from the row scanned,
// keeping its key in *last; ok is false for a network's row.
func (r *briefRow) decode(last *[]byte) (ok bool, err error) {
	addr, ok, err := rankedKey(r.ip, last)
	if !ok || err != nil {
		return false, err
	}
	b := &r.b
	b.Addr, b.ExpiresAt = addr, time.Time{}
	b.Importance, b.HasImportance = r.importance.Float64, r.importance.Valid
	if r.expires != 0 {
		b.ExpiresAt = indicator.Time(r.expires)
	}
	// As merge.Stored.Indicator: Seclytics, then each feed's source
	// (the feed's id when it has none), each once.
	sep := []byte(listSep)
	b.Sources = b.Sources[:0]
	if r.seclytics != 0 {
		b.Sources = append(b.Sources, seclyticsSource)
	}
	if r.feeds.Valid {
		r.srcs = r.srcs[:0]
		if r.sources.Valid {
			r.srcs = slices.AppendSeq(r.srcs, bytes.SplitSeq(r.sources.V, sep))
		}
		i := 0
		for f := range bytes.SplitSeq(r.feeds.V, sep) {
			src := f
			if i < len(r.srcs) {
				src = r.srcs[i]
			}
			i++
			if !slices.ContainsFunc(b.Sources, func(x []byte) bool { return bytes.Equal(x, src) }) {
				b.Sources = append(b.Sources, src)
			}
		}
	}
	b.Categories = b.Categories[:0]
	if r.cats.Valid {
		b.Categories = slices.AppendSeq(b.Categories, bytes.SplitSeq(r.cats.V, sep))
		slices.SortFunc(b.Categories, bytes.Compare)
	}
	return true, nil
}
