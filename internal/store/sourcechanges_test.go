package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A MISP feed's events come from the indexes, not a read of every
// indicator: the latest update is one step down indicators_updated, the
// expiries passed a range of indicators_expiry.
func TestSourceChangesUsesIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query string
		args  []any
		index string
	}{
		{latestUpdateSQL, nil, "indicators_updated"},
		{latestExpirySQL, []any{1, 1}, "indicators_expiry"},
	} {
		plan := strings.Join(queryPlan(t, s, c.query, c.args...), "; ")
		if !strings.Contains(plan, c.index) || strings.Contains(plan, "SCAN indicators") && !strings.Contains(plan, "INDEX") {
			t.Errorf("%s\nreads the store without %s: %s", c.query, c.index, plan)
		}
	}
}
