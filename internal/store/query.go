package store

import (
	"context"
	"database/sql/driver"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"modernc.org/sqlite"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// ErrBadQuery is wrapped when a search names an unknown sort, status,
// source or band.
var ErrBadQuery = errors.New("bad query")

// ErrBadCursor is wrapped when a page cursor is not one this listing
// handed out (malformed, from another listing, or from another sort).
var ErrBadCursor = errors.New("bad cursor")

// IndicatorQuery selects and orders indicators. Zero values select
// everything.
type IndicatorQuery struct {
	// Q matches indicators whose value contains it ("10.1.", "2001:db8").
	Q string
	// Text matches indicators whose value contains it, or one of whose
	// text attributes (Cluster, Detected Identifiers, Detected
	// Categories, Detected By, Predicted Category) does, ignoring ASCII
	// case: the web UI's free-text search. Like Q, it reads every row the
	// other filters leave.
	Text string
	// CIDR keeps the addresses inside a network. The zero value is any.
	CIDR netip.Prefix
	// Category keeps indicators with this detected category
	// (case-insensitive, whole category).
	Category string
	// Normalized keeps one importance band: High, Medium or Low.
	Normalized    string
	MinImportance *float64
	Status        indicator.Status
	// Source keeps indicators carrying a source's attributes; the only
	// source is indicator.SourceSeclytics.
	Source string
	// Networks includes the network indicators list feeds store (type
	// CIDR; a text search Q never matches them). Readers that render only
	// addresses (the UI, TAXII) leave it off.
	Networks bool
	// Feed keeps indicators the feed with this id lists now
	// ("seclytics" for Seclytics).
	Feed string
	// MinSources keeps indicators at least this many feeds list now.
	MinSources int
	// MinConfidence keeps indicators whose combined confidence is at
	// least this (0-100).
	MinConfidence *int
	UpdatedSince  time.Time
	// DateField names the date From and Until keep: "predicted"
	// (Seclytics' Predicted At) or "detected" (Detected At); "" with no
	// bound. From is inclusive, Until exclusive; a zero bound is open.
	DateField   string
	From, Until time.Time
	// Sort is one of IndicatorSorts; "" is "value".
	Sort string
	// Limit is the page size: 100 if 0, at most 1000.
	Limit int
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
}

// IndicatorPage is one page of a search. Next continues it; it is empty on
// the last page.
type IndicatorPage struct {
	Indicators []indicator.Indicator `json:"indicators"`
	Next       string                `json:"next,omitempty"`
}

// IndicatorSorts are the orders SearchIndicators accepts: by address (value),
// importance (missing importance lowest), last update or combined
// confidence (none lowest), each ascending or, with "-", descending. Ties
// are ordered by address.
var IndicatorSorts = []string{"value", "-value", "importance", "-importance", "updated", "-updated", "confidence", "-confidence"}

// Page sizes.
const (
	DefaultIndicatorLimit = 100
	MaxIndicatorLimit     = 1000
	DefaultRunLimit       = 50
	MaxRunLimit           = 500
)

// indicatorSort is one entry of IndicatorSorts. key is the SQL sort key
// before the address ("" when sorting by address alone).
//
// By address, a page reads the primary key from the cursor on; by update
// time, index indicators_updated from the cursor on. By importance, the
// partial index indicators_active_importance from the cursor on when the
// search is for Active indicators; for any other status there is no index
// (one over every status made ingests 20% slower, see migration 006), and
// each page scans the table after the cursor and keeps the first Limit in
// order.
type indicatorSort struct {
	code byte // in cursors
	key  string
	desc bool
}

var indicatorSorts = map[string]indicatorSort{
	"value":       {code: 1},
	"-value":      {code: 2, desc: true},
	"importance":  {code: 3, key: importanceKey},
	"-importance": {code: 4, key: importanceKey, desc: true},
	"updated":     {code: 5, key: "updated_at"},
	"-updated":    {code: 6, key: "updated_at", desc: true},
	// No index: the sort scans, as importance does for other statuses.
	"confidence":  {code: 7, key: confidenceKey},
	"-confidence": {code: 8, key: confidenceKey, desc: true},
}

// confidenceKey sorts a missing confidence below every value.
const confidenceKey = "COALESCE(confidence, -1)"

// importanceKey sorts a missing importance below every score. The partial
// index indicators_active_importance (migration 006) is on exactly this
// expression.
const importanceKey = "COALESCE(s_importance, -1)"

// seclyticsPresent is true for an indicator that carries any Seclytics
// attribute, or a netblock kept for lookups.
const seclyticsPresent = `(s_predicted_at IS NOT NULL OR s_predicted_netblock IS NOT NULL OR s_predicted_category IS NOT NULL
	OR s_cluster_id IS NOT NULL OR s_detected_by IS NOT NULL OR s_detected_identifiers IS NOT NULL OR s_detected_categories IS NOT NULL
	OR s_detected_at IS NOT NULL OR s_last_seen_at IS NOT NULL OR s_importance IS NOT NULL OR s_normalized_importance IS NOT NULL
	OR s_lookup_netblock IS NOT NULL)`

// SearchIndicators returns one page of the indicators q selects, in q's
// order, built as Lookup builds them.
//
// Pages are keyset-paginated: the cursor holds the last row's sort key and
// address, and the next page starts right after them. Walking all pages
// therefore returns every indicator that exists throughout the walk exactly
// once, whatever is inserted or deleted meanwhile; an indicator added
// during the walk appears if it sorts after the current page. One whose
// importance or update time changes during a walk sorted by it moves, and
// may appear twice or not at all (by value the order never changes).
//
// Sorted by value or update, a page reads rows in sort order from the
// cursor until it has Limit matches: fast when the filters match often,
// a scan of much of the store when they match rarely or never. Sorted by
// importance, the same for Active indicators; for other statuses every page
// scans the rows after the cursor (no index).
// CIDR narrows the scan to its key range.
func (s *Store) SearchIndicators(ctx context.Context, q IndicatorQuery) (IndicatorPage, error) {
	var page IndicatorPage
	query, args, so, limit, err := q.sql(s.d)
	if err != nil {
		return page, err
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("search indicators: %w", err)
	}
	stored := make([]merge.Stored, 0, limit+1)
	for rows.Next() {
		stored = append(stored, merge.Stored{})
		if err := scanStored(rows, &stored[len(stored)-1]); err != nil {
			rows.Close()
			return page, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search indicators: %w", err)
	}
	if len(stored) > limit {
		stored = stored[:limit]
		page.Next = indicatorCursorAt(&stored[limit-1], so).encode()
	}
	page.Indicators = make([]indicator.Indicator, 0, len(stored))
	for i := range stored {
		rt, err := s.runTimesFor(ctx, &stored[i])
		if err != nil {
			return IndicatorPage{}, err
		}
		page.Indicators = append(page.Indicators, stored[i].Indicator(rt))
	}
	return page, nil
}

// CountIndicators counts the indicators q selects (its sort, page size and
// cursor are ignored), reading at most limit+1 of them: beyond limit it
// returns limit and capped. It costs what walking that many results costs.
func (s *Store) CountIndicators(ctx context.Context, q IndicatorQuery, limit int) (n int64, capped bool, err error) {
	if limit < 1 {
		return 0, false, fmt.Errorf("count indicators: limit %d: give one of at least 1: %w", limit, ErrBadQuery)
	}
	where, args := q.bounds(indicatorSorts["value"], nil)
	filters, fargs, err := q.filters(s.d)
	if err != nil {
		return 0, false, err
	}
	where, args = append(where, filters...), append(args, fargs...)
	query := "SELECT COUNT(*) FROM (SELECT 1 FROM indicators" + whereClause(where) + " LIMIT ?) AS matching"
	if err := s.r.QueryRowContext(ctx, query, append(args, limit+1)...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count indicators: %w", err)
	}
	if n > int64(limit) {
		return int64(limit), true, nil
	}
	return n, false, nil
}

// sql returns the query of one page of q (reading Limit+1 rows, to know
// whether a next page exists), with its order and page size.
func (q *IndicatorQuery) sql(d dialect) (query string, args []any, so indicatorSort, limit int, err error) {
	sortName := q.Sort
	if sortName == "" {
		sortName = "value"
	}
	so, ok := indicatorSorts[sortName]
	if !ok {
		return "", nil, so, 0, fmt.Errorf("sort %q: use one of %s: %w", q.Sort, strings.Join(IndicatorSorts, ", "), ErrBadQuery)
	}
	if limit, err = pageLimit(q.Limit, DefaultIndicatorLimit, MaxIndicatorLimit); err != nil {
		return "", nil, so, 0, err
	}
	var cur *indicatorCursor
	if q.Cursor != "" {
		c, err := decodeIndicatorCursor(q.Cursor, so.code)
		if err != nil {
			return "", nil, so, 0, err
		}
		cur = &c
	}
	// SQLite seeks a row value such as (key, ip) > (?, ?) in an index of
	// columns, not of an expression: after a cursor, the importance sort
	// asks for the rest of the cursor's ties and for the keys after it
	// separately, each a seek (see importanceAfter).
	split := so.key == importanceKey && cur != nil
	bcur := cur
	if split {
		bcur = nil
	}
	where, args := q.bounds(so, bcur)
	filters, fargs, err := q.filters(d)
	if err != nil {
		return "", nil, so, 0, err
	}
	where, args = append(where, filters...), append(args, fargs...)
	dir := ""
	if so.desc {
		dir = " DESC"
	}
	order := "ip" + dir
	if so.key != "" {
		order = so.key + dir + ", " + order
	}
	if split {
		query, args = importanceAfter(so, cur, where, args, order, limit+1)
		return query, args, so, limit, nil
	}
	query = selectStored + whereClause(where) + " ORDER BY " + order + " LIMIT ?"
	return query, append(args, limit+1), so, limit, nil
}

func whereClause(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(terms, " AND ")
}

// importanceAfter is the page after cur sorted by importance: the cursor's
// remaining ties (same key, address after the cursor's, in address order)
// and the rows with a key after the cursor's (in key order), each limited
// to n rows and each an index seek, merged and cut to n. where and args are
// the page's other terms.
func importanceAfter(so indicatorSort, cur *indicatorCursor, where []string, args []any, order string, n int) (string, []any) {
	op, dir := ">", ""
	if so.desc {
		op, dir = "<", " DESC"
	}
	ca := cur.args(so) // key, ip
	ties := selectStored + whereClause(append([]string{so.key + " = ?", "ip " + op + " ?"}, where...)) + " ORDER BY ip" + dir + " LIMIT ?"
	after := selectStored + whereClause(append([]string{so.key + " " + op + " ?"}, where...)) + " ORDER BY " + order + " LIMIT ?"
	query := "SELECT * FROM (SELECT * FROM (" + ties + ") AS ties UNION ALL SELECT * FROM (" + after + ") AS after_ties) AS page ORDER BY " + order + " LIMIT ?"
	all := make([]any, 0, 2*len(args)+6)
	all = append(append(append(all, ca...), args...), n)
	all = append(append(append(all, ca[0]), args...), n)
	return query, append(all, n)
}

// bounds returns the WHERE terms that bound the page in its sort order:
// the cursor, and UpdatedSince. SQLite seeks an index with one bound only,
// so when sorting by update time, ascending, only the later of the two is
// given: the other is implied.
func (q *IndicatorQuery) bounds(so indicatorSort, cur *indicatorCursor) (where []string, args []any) {
	var since int64
	hasSince := !q.UpdatedSince.IsZero()
	if hasSince {
		since = q.UpdatedSince.Unix()
	}
	switch {
	case !hasSince:
	case so.key != "updated_at":
		// A unary + keeps SQLite from reading the update index for this
		// filter when the page is sorted by something else.
		where, args = append(where, "+updated_at >= ?"), append(args, since)
	case !so.desc && cur != nil && int64(cur.key) >= since:
		// The cursor is at or after since: it implies the filter.
	default:
		where, args = append(where, "updated_at >= ?"), append(args, since)
		if !so.desc && cur != nil {
			// since is after the cursor: everything from since on
			// follows the cursor.
			cur = nil
		}
	}
	if cur != nil {
		where, args = append(where, so.after()), append(args, cur.args(so)...)
	}
	return where, args
}

// dateColumns are the dates IndicatorQuery.DateField may name.
var dateColumns = map[string]string{"predicted": "s_predicted_at", "detected": "s_detected_at"}

// DateFields are the names IndicatorQuery.DateField accepts.
var DateFields = []string{"predicted", "detected"}

// filters returns the WHERE terms and arguments of q's filters other than
// UpdatedSince, cheapest first: SQLite evaluates them in this order.
func (q *IndicatorQuery) filters(d dialect) ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(term string, a ...any) {
		where = append(where, term)
		args = append(args, a...)
	}
	if !q.Networks {
		add(hostKeys)
	}
	if q.CIDR.IsValid() {
		lo, hi := cidrKeyRange(q.CIDR)
		add("ip BETWEEN ? AND ?", lo, hi)
	}
	if q.Status != "" {
		if !q.Status.Valid() {
			return nil, nil, fmt.Errorf("status %q: use Active, Expired, Whitelisted or Review: %w", q.Status, ErrBadQuery)
		}
		if q.Status == indicator.StatusActive {
			// Literal, so that SQLite can read the partial indexes on
			// Active indicators (a bound parameter does not imply their
			// WHERE status = 'Active').
			add("status = 'Active'")
		} else {
			add("status = ?", string(q.Status))
		}
	}
	if q.MinImportance != nil {
		v := *q.MinImportance
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("minimum importance %v: give a number from 0 to 100: %w", v, ErrBadQuery)
		}
		add("s_importance >= ?", v)
	}
	if q.Normalized != "" {
		band := ""
		for _, b := range []string{indicator.High, indicator.Medium, indicator.Low} {
			if strings.EqualFold(q.Normalized, b) {
				band = b
			}
		}
		if band == "" {
			return nil, nil, fmt.Errorf("normalized importance %q: use High, Medium or Low: %w", q.Normalized, ErrBadQuery)
		}
		add("s_normalized_importance = ?", band)
	}
	if q.Source != "" {
		if !strings.EqualFold(q.Source, indicator.SourceSeclytics) {
			return nil, nil, fmt.Errorf("source %q: the only source is %s: %w", q.Source, indicator.SourceSeclytics, ErrBadQuery)
		}
		add(seclyticsPresent)
	}
	if q.Feed != "" {
		if q.Feed == merge.SeclyticsFeed {
			add("s_listed = 1")
		} else {
			add("EXISTS (SELECT 1 FROM memberships m WHERE m.ip = indicators.ip AND m.feed = ? AND m.listed = 1)", q.Feed)
		}
	}
	if q.MinSources < 0 {
		return nil, nil, fmt.Errorf("minimum sources %d: give a number of feeds, 0 or more: %w", q.MinSources, ErrBadQuery)
	}
	if q.MinSources > 0 {
		add("listings + s_listed >= ?", q.MinSources)
	}
	if q.DateField != "" || !q.From.IsZero() || !q.Until.IsZero() {
		col, ok := dateColumns[q.DateField]
		if !ok {
			return nil, nil, fmt.Errorf("date %q: use predicted or detected: %w", q.DateField, ErrBadQuery)
		}
		if !q.From.IsZero() {
			add(col+" >= ?", q.From.Unix())
		}
		if !q.Until.IsZero() {
			add(col+" < ?", q.Until.Unix())
		}
	}
	if q.MinConfidence != nil {
		if v := *q.MinConfidence; v < 0 || v > 100 {
			return nil, nil, fmt.Errorf("minimum confidence %d: give a number from 0 to 100: %w", v, ErrBadQuery)
		}
		add("confidence >= ?", *q.MinConfidence)
	}
	if cat := strings.TrimSpace(q.Category); cat != "" {
		if strings.Contains(cat, listSep) {
			return nil, nil, fmt.Errorf("category %q has a control character: %w", q.Category, ErrBadQuery)
		}
		// Categories are stored lower-cased (package prediction), so the
		// match is case-insensitive by lower-casing the query only. The
		// separators around both sides make it a whole-category match.
		add(d.listHas("s_detected_categories"), listSep+strings.ToLower(cat)+listSep)
	}
	if text := strings.ToLower(strings.TrimSpace(q.Q)); text != "" {
		add(ipContainsFunc+"(ip, ?)", text)
	}
	if text := strings.ToLower(strings.TrimSpace(q.Text)); text != "" {
		if strings.ContainsFunc(text, unicode.IsControl) {
			return nil, nil, fmt.Errorf("text %q has a control character: %w", q.Text, ErrBadQuery)
		}
		terms, targs := []string{ipContainsFunc + "(ip, ?)"}, []any{text}
		for _, col := range textColumns {
			terms, targs = append(terms, d.contains("lower("+col+")")), append(targs, text)
		}
		add("("+strings.Join(terms, " OR ")+")", targs...)
	}
	return where, args, nil
}

// after is the keyset condition "after the cursor" in so's order. With a
// row value, SQLite seeks the index to the cursor's (key, ip) directly:
// many indicators share an update time (all those a run changed), and the
// equivalent "key >= ? AND (key > ? OR ip > ?)" would scan all of the
// cursor's ties before it.
func (so indicatorSort) after() string {
	op := ">"
	if so.desc {
		op = "<"
	}
	if so.key == "" {
		return "ip " + op + " ?"
	}
	return "(" + so.key + ", ip) " + op + " (?, ?)"
}

// indicatorCursor is the position after one row in one sort order.
type indicatorCursor struct {
	sort byte
	key  uint64 // the sort key's bits: float64 for importance, int64 for updated
	ip   [16]byte
	// net is, for a network indicator, the 17th byte of its key plus
	// one; 0 for a host.
	net byte
}

// storedKey is the key of the cursor's row: 16 bytes, or 17 for a network.
func (c indicatorCursor) storedKey() []byte {
	if c.net == 0 {
		return c.ip[:]
	}
	return append(c.ip[:], c.net-1)
}

func (c indicatorCursor) args(so indicatorSort) []any {
	ip := c.storedKey()
	switch so.key {
	case "":
		return []any{ip}
	case importanceKey:
		return []any{math.Float64frombits(c.key), ip}
	default:
		return []any{int64(c.key), ip}
	}
}

func indicatorCursorAt(st *merge.Stored, so indicatorSort) indicatorCursor {
	c := indicatorCursor{sort: so.code, ip: st.Addr.As16()}
	if st.Prefix.IsValid() {
		k := prefixKey(st.Prefix)
		c.net = k[16] + 1
	}
	switch so.key {
	case importanceKey:
		v := -1.0 // as importanceKey has it
		if st.Has.Has(merge.Importance) {
			v = st.Importance
		}
		c.key = math.Float64bits(v)
	case "updated_at":
		c.key = uint64(st.UpdatedAt)
	case confidenceKey:
		v := int64(-1)
		if st.HasConfidence {
			v = st.Confidence
		}
		c.key = uint64(v)
	}
	return c
}

// Cursors are base64url of: a version byte, a kind byte, then the
// position. They are opaque to clients; nothing in them is secret, and a
// forged one only starts a listing elsewhere.
const (
	cursorVersion = 1
	cursorRuns    = 'r'
)

var cursorEncoding = base64.RawURLEncoding

func (c indicatorCursor) encode() string {
	b := make([]byte, 0, 2+8+17)
	b = append(b, cursorVersion, c.sort)
	b = binary.BigEndian.AppendUint64(b, c.key)
	b = append(b, c.storedKey()...)
	return cursorEncoding.EncodeToString(b)
}

func decodeIndicatorCursor(s string, sort byte) (indicatorCursor, error) {
	var c indicatorCursor
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || (len(b) != 2+8+16 && len(b) != 2+8+17) || b[0] != cursorVersion {
		return c, fmt.Errorf("cursor %q is not one this listing returned: start again without it: %w", s, ErrBadCursor)
	}
	if b[1] != sort {
		return c, fmt.Errorf("cursor %q belongs to another sort order: start again without it, or keep the sort it came with: %w", s, ErrBadCursor)
	}
	c.sort, c.key = b[1], binary.BigEndian.Uint64(b[2:10])
	copy(c.ip[:], b[10:26])
	if len(b) == 2+8+17 {
		if b[26] > 127 {
			return c, fmt.Errorf("cursor %q is not one this listing returned: start again without it: %w", s, ErrBadCursor)
		}
		c.net = b[26] + 1
	}
	if v := math.Float64frombits(c.key); sort == indicatorSorts["importance"].code || sort == indicatorSorts["-importance"].code {
		if math.IsNaN(v) {
			return c, fmt.Errorf("cursor %q is not one this listing returned: start again without it: %w", s, ErrBadCursor)
		}
	}
	return c, nil
}

func encodeRunCursor(id int64) string {
	b := []byte{cursorVersion, cursorRuns}
	return cursorEncoding.EncodeToString(binary.AppendUvarint(b, uint64(id)))
}

func decodeRunCursor(s string) (int64, error) {
	b, err := cursorEncoding.DecodeString(s)
	if err == nil && len(b) > 2 && b[0] == cursorVersion && b[1] == cursorRuns {
		id, n := binary.Uvarint(b[2:])
		if n == len(b)-2 && id > 0 && id <= math.MaxInt64 {
			return int64(id), nil
		}
	}
	return 0, fmt.Errorf("cursor %q is not one the activity log returned: start again without it: %w", s, ErrBadCursor)
}

// pageLimit applies a listing's default and maximum page size.
func pageLimit(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("limit %d: give a page size from 1 to %d: %w", limit, max, ErrBadQuery)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// cidrKeyRange returns the first and last stored keys inside p: keys are
// 16 bytes (IPv4 mapped into IPv6), so a network is one key range.
func cidrKeyRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	first := p.Addr().As16()
	last := first
	for i := bits; i < 128; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return first[:], last[:]
}

// textColumns are the attributes IndicatorQuery.Text searches.
var textColumns = []string{clusterName, "s_detected_identifiers", "s_detected_categories", "s_detected_by", "s_predicted_category"}

// ipContainsFunc is an SQL function: ipContainsFunc(ip, text) is true if
// the address stored as key ip, written as forewarn writes it, contains
// text. Addresses are stored as bytes, so SQL alone cannot match their
// text.
const ipContainsFunc = "forewarn_ip_contains"

func init() {
	// On the package-level driver (the read pools) and on the writer's.
	sqlite.MustRegisterDeterministicScalarFunction(ipContainsFunc, 2, ipContains)
	if err := writerDriver.RegisterDeterministicScalarFunction(ipContainsFunc, 2, ipContains); err != nil {
		panic(err)
	}
}

func ipContains(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	k, _ := args[0].([]byte)
	text, _ := args[1].(string)
	if len(k) != 16 {
		return int64(0), nil
	}
	var buf [64]byte
	if strings.Contains(string(netip.AddrFrom16([16]byte(k)).Unmap().AppendTo(buf[:0])), text) {
		return int64(1), nil
	}
	return int64(0), nil
}
