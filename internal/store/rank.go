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

// The orders an output profile's budget ranks Active indicators by.
const (
	// RankImportance: highest Importance first (none lowest), ties by
	// address, the higher first. Reads indicators_active_importance.
	RankImportance = "importance"
	// RankRecency: the latest change first, ties by address, the higher
	// first. Reads indicators_updated.
	RankRecency = "recency"
)

var rankQueries = map[string]string{
	RankImportance: `SELECT ip, expires_at, ` + importanceKey + ` FROM indicators WHERE status = 'Active'
		ORDER BY ` + importanceKey + ` DESC, ip DESC`,
	RankRecency: `SELECT ip, expires_at, updated_at FROM indicators WHERE status = 'Active'
		ORDER BY updated_at DESC, ip DESC`,
}

// Ranked is one Active indicator as a budget ranks it.
type Ranked struct {
	Addr      netip.Addr
	ExpiresAt time.Time // zero: never
	// Rank is its rank value, as a person reads it: the importance
	// ("none" without one) or the time of its last change.
	Rank string
}

// EachRanked calls fn with the Active indicators in the order by
// (RankImportance or RankRecency), best first, until fn returns false. It
// reads an index in that order, so a budget of N reads about N entries
// whatever the store's size. Ties are broken by address, so the order is
// the same from one call to the next while nothing changes.
func (s *Store) EachRanked(ctx context.Context, by string, fn func(Ranked) bool) error {
	q, ok := rankQueries[by]
	if !ok {
		return fmt.Errorf("rank by %q: use %s or %s: %w", by, RankImportance, RankRecency, ErrBadQuery)
	}
	rows, err := s.x.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("rank indicators by %s: %w", by, err)
	}
	defer rows.Close()
	var (
		ip      []byte
		expires sql.NullInt64
		rank    float64
	)
	for rows.Next() {
		if err := rows.Scan(&ip, &expires, &rank); err != nil {
			return fmt.Errorf("rank indicators by %s: %w", by, err)
		}
		addr, err := addrFromKey(ip)
		if err != nil {
			return err
		}
		r := Ranked{Addr: addr.Unmap()}
		if expires.Valid {
			r.ExpiresAt = indicator.Time(expires.Int64)
		}
		switch {
		case by == RankRecency:
			r.Rank = indicator.FormatTime(int64(rank))
		case rank < 0:
			r.Rank = "none"
		default:
			r.Rank = strconv.FormatFloat(rank, 'f', -1, 64)
		}
		if !fn(r) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rank indicators by %s: %w", by, err)
	}
	return nil
}

// rankedBatch is how many addresses EachIndicatorAt reads per statement.
const rankedBatch = 500

// EachIndicatorAt calls fn for the indicators at addrs, which must be in
// address order, with their lookup netblocks (as EachIndicatorNetblock),
// reading them by key a batch at a time: a budget's N indicators cost N
// key lookups, not a pass over the store. An address the store no longer
// holds is skipped.
func (s *Store) EachIndicatorAt(ctx context.Context, addrs []netip.Addr, fn func(*indicator.Indicator, netip.Prefix) error) error {
	rt, err := s.runTimesFor(ctx, nil)
	if err != nil {
		return err
	}
	var st merge.Stored
	args := make([]any, 0, rankedBatch)
	for len(addrs) > 0 {
		n := min(len(addrs), rankedBatch)
		args = args[:0]
		for _, a := range addrs[:n] {
			args = append(args, key(a))
		}
		addrs = addrs[n:]
		err := func() error {
			rows, err := s.x.QueryContext(ctx, selectStored+` WHERE ip IN (?`+strings.Repeat(",?", n-1)+`) ORDER BY ip`, args...)
			if err != nil {
				return fmt.Errorf("read indicators: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := scanStored(rows, &st); err != nil {
					return err
				}
				ind := st.Indicator(rt)
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

var rankedIndicatorOrder = map[string]string{
	RankImportance: ` WHERE status = 'Active' ORDER BY ` + importanceKey + ` DESC, ip DESC`,
	RankRecency:    ` WHERE status = 'Active' ORDER BY updated_at DESC, ip DESC`,
}

// EachRankedIndicator is EachRanked that reads each indicator whole (with
// its lookup netblock) in the same pass: one lookup per indicator instead
// of two, for a budget small enough to hold in memory.
func (s *Store) EachRankedIndicator(ctx context.Context, by string, fn func(Ranked, *indicator.Indicator, netip.Prefix) bool) error {
	order, ok := rankedIndicatorOrder[by]
	if !ok {
		return fmt.Errorf("rank by %q: use %s or %s: %w", by, RankImportance, RankRecency, ErrBadQuery)
	}
	rt, err := s.runTimesFor(ctx, nil)
	if err != nil {
		return err
	}
	rows, err := s.x.QueryContext(ctx, selectStored+order)
	if err != nil {
		return fmt.Errorf("rank indicators by %s: %w", by, err)
	}
	defer rows.Close()
	var st merge.Stored
	for rows.Next() {
		if err := scanStored(rows, &st); err != nil {
			return err
		}
		ind := st.Indicator(rt)
		r := Ranked{Addr: ind.Addr, Rank: "none"}
		if st.ExpiresAt != 0 {
			r.ExpiresAt = indicator.Time(st.ExpiresAt)
		}
		switch {
		case by == RankRecency:
			r.Rank = indicator.FormatTime(st.UpdatedAt)
		case st.Has.Has(merge.Importance):
			r.Rank = strconv.FormatFloat(st.Importance, 'f', -1, 64)
		}
		if !fn(r, &ind, st.LookupNetblock) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rank indicators by %s: %w", by, err)
	}
	return nil
}
