package store

import (
	"context"
	"fmt"
	"net/netip"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// EachIndicatorNetblock is EachIndicator that also passes the last predicted
// netblock seen for each address (s_lookup_netblock), which the store keeps
// whether or not Predicted Netblock is a kept attribute. The prefix is the
// zero value when the address never had one. Exports use it for
// netblock blocklists; it streams in address order like EachIndicator,
// network indicators included (Indicator.Prefix set, TypeCIDR).
func (s *Store) EachIndicatorNetblock(ctx context.Context, fn func(*indicator.Indicator, netip.Prefix) error) error {
	// Every run id an indicator names was read here or is newer than this
	// snapshot of the runs table; read it once for the whole export.
	rt, err := s.runTimesFor(ctx, nil)
	if err != nil {
		return err
	}
	// The exports' own pool: a slow client holds this connection.
	// Networks (a list feed's CIDR entries) too: each follows the address
	// it starts at.
	rows, err := s.x.QueryContext(ctx, selectStored+` ORDER BY ip`)
	if err != nil {
		return fmt.Errorf("read indicators: %w", err)
	}
	defer rows.Close()
	var (
		st  merge.Stored
		row storedRow
	)
	for rows.Next() {
		if err := row.scan(rows, &st); err != nil {
			return err
		}
		ind := st.Indicator(rt)
		if err := fn(&ind, st.LookupNetblock); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indicators: %w", err)
	}
	return nil
}
