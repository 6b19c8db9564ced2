package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"forewarn/internal/metrics"
	"forewarn/internal/output"
	"forewarn/internal/store"
)

// outputObserver puts output profile fetches into /metrics.
type outputObserver struct {
	m *metrics.Metrics
}

// newOutputObserver starts the output series from the store's record of
// each profile's last fetch, so /metrics shows them before the next one.
func newOutputObserver(ctx context.Context, st *store.Store, m *metrics.Metrics, log *slog.Logger) *outputObserver {
	o := &outputObserver{m: m}
	all, err := st.Outputs(ctx)
	if err != nil {
		log.Warn("output metrics start empty: could not list the outputs", "err", err)
		return o
	}
	for _, out := range all {
		if out.FetchedAt != nil {
			m.OutputFetched(out.Name, *out.FetchedAt, out.Entries, cutOffValue(out.CutOff), false)
		}
	}
	return o
}

// Fetched implements output.Observer.
func (o *outputObserver) Fetched(name string, at time.Time, r output.Result) {
	o.m.OutputFetched(name, at, r.Entries, cutOffValue(r.CutOff), true)
}

// cutOffValue is a cut-off as a number: an importance, -1 for none, or a
// time (ranked by recency) as Unix seconds; nil when there is none.
func cutOffValue(s string) *float64 {
	var v float64
	switch {
	case s == "":
		return nil
	case s == "none":
		v = -1
	default:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			v = f
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			v = float64(t.Unix())
		} else {
			return nil
		}
	}
	return &v
}
