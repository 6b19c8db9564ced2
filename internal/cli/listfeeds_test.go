package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"testing"

	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

type prefixes struct {
	p []string
	i int
}

func (l *prefixes) Next() (store.ListEntry, error) {
	if l.i == len(l.p) {
		return store.ListEntry{}, io.EOF
	}
	l.i++
	return store.ListEntry{Prefix: netip.MustParsePrefix(l.p[l.i-1])}, nil
}

// lookup --json of an address inside a listed network: listed, the
// network in matched, the network's indicator with its feeds.
func TestLookupJSONInListedNetwork(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"drop", "firehol"} {
		if _, err := st.IngestList(ctx, store.ListRun{Feed: f, Source: "Src " + f, Mode: store.ModeSnapshot, Confidence: 50},
			&prefixes{p: []string{"198.51.100.0/24"}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	r := run(t, map[string]string{"FOREWARN_DB": db}, "lookup", "--json", "198.51.100.20")
	var res struct {
		Verdict, Matched string
		Indicator        struct {
			Type, Value string
			Confidence  int
			Feeds       []struct {
				Feed, Source string
				Listed       bool
			}
		}
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || r.code != 0 {
		t.Fatalf("lookup --json: %v %+v", err, r)
	}
	ind := res.Indicator
	if res.Verdict != "listed" || res.Matched != "198.51.100.0/24" || ind.Value != "198.51.100.0/24" || ind.Type != "CIDR" ||
		ind.Confidence != 75 || len(ind.Feeds) != 2 || ind.Feeds[1].Feed != "firehol" || !ind.Feeds[1].Listed {
		t.Errorf("lookup --json: %s", r.out)
	}
}
