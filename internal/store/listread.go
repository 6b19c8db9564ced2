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

// Membership is one feed's listing of an indicator.
type Membership struct {
	Feed   string // the feed's id ("seclytics" for Seclytics)
	Source string // the name shown as the indicator's source
	Listed bool
	// FirstSeen and LastSeen are the feed's own dates (nil: it has none).
	// Seclytics': Predicted At and Last Seen At.
	FirstSeen, LastSeen *time.Time
	// ObservedFirst and ObservedLast are the first and last runs that read
	// the entry (ObservedLast may lag the last run by a tenth of the feed's
	// age_out, a day when it never ages out: an unchanged entry is not
	// rewritten by every run).
	ObservedFirst, ObservedLast time.Time
	// DelistedAt is when the feed stopped listing it (nil while listed).
	DelistedAt *time.Time
	Attrs      []ListAttr
}

// Listed is an indicator as the list feeds see it: a host or network,
// its status, combined confidence (nil: no source lists it) and every
// feed's listing, Seclytics' derived from its columns.
type Listed struct {
	Prefix     netip.Prefix
	Status     indicator.Status
	Confidence *int
	// Sources counts the feeds that list it now.
	Sources int
	Feeds   []Membership
}

// ListedIndicator returns the indicator of a host or network with its
// memberships, or an error wrapping ErrNotFound.
func (s *Store) ListedIndicator(ctx context.Context, p netip.Prefix) (Listed, error) {
	return s.listed(ctx, s.r, p)
}

func (s *Store) listed(ctx context.Context, q querier, p netip.Prefix) (Listed, error) {
	if !p.IsValid() {
		return Listed{}, fmt.Errorf("invalid address or network: %w", ErrBadQuery)
	}
	k := prefixKey(p)
	var (
		l          Listed
		status     string
		conf       sql.NullInt64
		listings   int
		sListed    int
		sPresent   bool
		predAt     sql.NullInt64
		lastSeenAt sql.NullInt64
		createdAt  int64
		seenAt     sql.NullInt64
	)
	err := q.QueryRowContext(ctx, `SELECT status, confidence, listings, s_listed, `+seclyticsPresent+`,
		s_predicted_at, s_last_seen_at, created_at, s_seen_at FROM indicators WHERE ip = ?`, k).Scan(
		&status, &conf, &listings, &sListed, &sPresent, &predAt, &lastSeenAt, &createdAt, &seenAt)
	if isNoRows(err) {
		return l, fmt.Errorf("%s: %w", p.Masked(), ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("read %s: %w", p.Masked(), err)
	}
	l.Prefix, l.Status, l.Sources = canonicalPrefix(p), indicator.Status(status), listings+sListed
	if conf.Valid {
		c := int(conf.Int64)
		l.Confidence = &c
	}
	if sPresent {
		m := Membership{Feed: "seclytics", Source: indicator.SourceSeclytics, Listed: sListed == 1,
			FirstSeen: unixPtr(predAt), LastSeen: unixPtr(lastSeenAt), ObservedFirst: time.Unix(createdAt, 0).UTC()}
		m.ObservedLast = m.ObservedFirst
		if seenAt.Valid {
			m.ObservedLast = time.Unix(seenAt.Int64, 0).UTC()
		}
		l.Feeds = append(l.Feeds, m)
	}
	ms, err := memberships(ctx, q, [][]byte{k})
	if err != nil {
		return l, err
	}
	l.Feeds = append(l.Feeds, ms[string(k)]...)
	return l, nil
}

// canonicalPrefix is p masked, an IPv4-mapped one as IPv4.
func canonicalPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// memberships reads the list feeds' memberships of the given keys, by key,
// in feed order.
func memberships(ctx context.Context, q querier, keys [][]byte) (map[string][]Membership, error) {
	out := make(map[string][]Membership, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	in := "?"
	args := make([]any, 0, len(keys))
	for i, k := range keys {
		if i > 0 {
			in += ",?"
		}
		args = append(args, k)
	}
	rows, err := q.QueryContext(ctx, `SELECT m.ip, m.feed, COALESCE(f.source, m.feed), m.listed, m.first_seen, m.last_seen,
		m.observed_first, m.observed_last, m.delisted_at, m.attrs
		FROM memberships m LEFT JOIN list_feeds f ON f.feed = m.feed WHERE m.ip IN (`+in+`) ORDER BY m.ip, m.feed`, args...)
	if err != nil {
		return nil, fmt.Errorf("read memberships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ip                  []byte
			m                   Membership
			listed              int
			first, last, delist sql.NullInt64
			obsFirst, obsLast   int64
			attrs               []byte
		)
		if err := rows.Scan(&ip, &m.Feed, &m.Source, &listed, &first, &last, &obsFirst, &obsLast, &delist, &attrs); err != nil {
			return nil, fmt.Errorf("read memberships: %w", err)
		}
		m.Listed = listed == 1
		m.FirstSeen, m.LastSeen, m.DelistedAt = unixPtr(first), unixPtr(last), unixPtr(delist)
		m.ObservedFirst, m.ObservedLast = time.Unix(obsFirst, 0).UTC(), time.Unix(obsLast, 0).UTC()
		if m.Attrs, err = decodeListAttrs(attrs); err != nil {
			return nil, fmt.Errorf("membership of feed %s: %w", m.Feed, err)
		}
		out[string(ip)] = append(out[string(ip)], m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read memberships: %w", err)
	}
	return out, nil
}

// EachNetwork calls fn for every network indicator (a list feed's CIDR
// entry), in key order, reading the partial index of networks: the lookup
// index holds them.
func (s *Store) EachNetwork(ctx context.Context, fn func(netip.Prefix) error) error {
	return eachNetwork(ctx, s.r, fn)
}

// EachNetworkOf is EachNetwork restricted to the given prefixes (those
// that may contain a few looked-up addresses); host prefixes are skipped.
func (s *Store) EachNetworkOf(ctx context.Context, prefixes []netip.Prefix, fn func(netip.Prefix) error) error {
	return eachNetworkOf(ctx, s.r, prefixes, fn)
}

// LookupNetwork returns the indicator of a network, or an error wrapping
// ErrNotFound.
func (s *Store) LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error) {
	return s.lookupNetwork(ctx, s.r, p)
}

// EachNetwork is Store.EachNetwork in the snapshot.
func (sn *Snapshot) EachNetwork(ctx context.Context, fn func(netip.Prefix) error) error {
	return eachNetwork(ctx, sn.tx, fn)
}

// EachNetworkOf is Store.EachNetworkOf in the snapshot.
func (sn *Snapshot) EachNetworkOf(ctx context.Context, prefixes []netip.Prefix, fn func(netip.Prefix) error) error {
	return eachNetworkOf(ctx, sn.tx, prefixes, fn)
}

// LookupNetwork is Store.LookupNetwork in the snapshot.
func (sn *Snapshot) LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error) {
	return sn.s.lookupNetwork(ctx, sn.tx, p)
}

func eachNetwork(ctx context.Context, q querier, fn func(netip.Prefix) error) error {
	// The literal condition is the partial index's.
	rows, err := q.QueryContext(ctx, `SELECT ip FROM indicators WHERE length(ip) = 17 ORDER BY ip`)
	if err != nil {
		return fmt.Errorf("read networks: %w", err)
	}
	defer rows.Close()
	return scanNetworks(rows, fn)
}

func scanNetworks(rows *sql.Rows, fn func(netip.Prefix) error) error {
	var b []byte
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("read networks: %w", err)
		}
		p, err := parseNetblock(b)
		if err != nil {
			return fmt.Errorf("read networks: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read networks: %w", err)
	}
	return nil
}

// networkChunk keys are looked up per statement.
const networkChunk = 500

func eachNetworkOf(ctx context.Context, q querier, prefixes []netip.Prefix, fn func(netip.Prefix) error) error {
	var keys []any
	for _, p := range prefixes {
		if p.IsValid() && !p.IsSingleIP() {
			keys = append(keys, prefixKey(canonicalPrefix(p)))
		}
	}
	for start := 0; start < len(keys); start += networkChunk {
		chunk := keys[start:min(start+networkChunk, len(keys))]
		rows, err := q.QueryContext(ctx, `SELECT ip FROM indicators WHERE ip IN (?`+strings.Repeat(",?", len(chunk)-1)+`) ORDER BY ip`, chunk...)
		if err != nil {
			return fmt.Errorf("read networks: %w", err)
		}
		err = scanNetworks(rows, fn)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) lookupNetwork(ctx context.Context, q querier, p netip.Prefix) (indicator.Indicator, error) {
	p = canonicalPrefix(p)
	if !p.IsValid() || p.IsSingleIP() {
		return indicator.Indicator{}, fmt.Errorf("%s is not a network: %w", p, ErrBadQuery)
	}
	k := prefixKey(p)
	var st merge.Stored
	if err := scanStored(q.QueryRowContext(ctx, selectStored+` WHERE ip = ?`, k), &st); err != nil {
		if isNoRows(err) {
			return indicator.Indicator{}, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		return indicator.Indicator{}, err
	}
	ind := st.Indicator(func(int64) time.Time { return time.Time{} })
	var err error
	if ind.Feeds, err = listingsOf(ctx, q, &st, k); err != nil {
		return indicator.Indicator{}, err
	}
	return ind, nil
}
