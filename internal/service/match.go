package service

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"forewarn/internal/logscan"
	"forewarn/internal/lookup"
	"forewarn/internal/retrohunt"
	"forewarn/internal/store"
)

// MatchInput is one log to match: a name for messages (a file name, or
// "stdin") and its content, plain or gzip.
type MatchInput struct {
	Name string
	R    io.Reader
}

// MatchOptions say how to read the logs.
type MatchOptions struct {
	// Input forces a format ("" detects it per log): zeek, eve,
	// combined, csv or text.
	Input string
	// Column is the CSV column holding the address ("" for every column
	// that holds one).
	Column string
	// MaxLine bounds a line, in bytes (0: logscan.DefaultMaxLine).
	MaxLine int
	// Record stores a sighting of every listed indicator hit, once every
	// log was read (all or nothing). A line without a time counts as
	// sighted now.
	Record bool
}

// Match looks through each log for the addresses the store knows, through
// res, calling onHit for every hit in log order, and returns the summary
// of all of them. It reads each log once, streaming; it changes nothing.
func (s *Service) Match(ctx context.Context, a Actor, res retrohunt.Resolver, inputs []MatchInput, opts MatchOptions, onHit func(*retrohunt.Hit) error) (retrohunt.Summary, error) {
	format, err := logscan.ParseFormat(opts.Input)
	if err != nil {
		return retrohunt.Summary{}, invalid("input", "%s", err)
	}
	if opts.MaxLine < 0 {
		return retrohunt.Summary{}, invalid("max_line", "must be a positive number of bytes, not %d", opts.MaxLine)
	}
	if opts.Column != "" && format != "" && format != logscan.FormatCSV {
		return retrohunt.Summary{}, invalid("column", "names a CSV column: it applies to --input csv only, not %s", format)
	}
	if len(opts.Column) > 256 {
		return retrohunt.Summary{}, invalid("column", "is %d bytes long: name a CSV column of the log's header", len(opts.Column))
	}
	h := retrohunt.New(res)
	now := time.Now().UTC()
	var seen *sightings
	if opts.Record {
		seen = &sightings{m: map[netip.Addr]*store.Sighting{}, now: now}
		next := onHit
		onHit = func(hit *retrohunt.Hit) error {
			if err := seen.add(hit); err != nil {
				return err
			}
			if next != nil {
				return next(hit)
			}
			return nil
		}
	}
	for _, in := range inputs {
		if err := matchOne(ctx, h, in, logscan.Options{Format: format, Column: opts.Column, MaxLine: opts.MaxLine}, onHit); err != nil {
			return h.Summary(), err
		}
	}
	sum := h.Summary()
	if seen != nil && len(seen.m) > 0 {
		batch := make([]store.Sighting, 0, len(seen.m))
		for _, sg := range seen.m {
			batch = append(batch, *sg)
		}
		r, err := s.recordSightings(ctx, a, batch, now)
		if err != nil {
			return sum, fmt.Errorf("record sightings: %w", err)
		}
		sum.Recorded = r.Recorded
	}
	return sum, nil
}

// sightings gathers the listed hits of a match, one per address.
type sightings struct {
	m   map[netip.Addr]*store.Sighting
	now time.Time
}

func (s *sightings) add(h *retrohunt.Hit) error {
	if h.Verdict != lookup.VerdictListed {
		return nil // only an indicator can be sighted
	}
	t := h.Time
	if t.IsZero() || t.After(s.now) {
		t = s.now
	}
	if sg := s.m[h.Addr]; sg != nil {
		sg.Count++
		if t.Before(sg.First) {
			sg.First = t
		}
		if t.After(sg.Last) {
			sg.Last = t
		}
		return nil
	}
	if len(s.m) >= maxRecorded {
		return fmt.Errorf("more than %d distinct indicators hit: record sightings from smaller logs", maxRecorded)
	}
	s.m[h.Addr] = &store.Sighting{Addr: h.Addr, Count: 1, First: t, Last: t}
	return nil
}

func matchOne(ctx context.Context, h *retrohunt.Hunter, in MatchInput, opts logscan.Options, onHit func(*retrohunt.Hit) error) error {
	sc, err := logscan.New(in.R, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	defer sc.Close()
	if err := h.Hunt(ctx, sc, onHit); err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	return nil
}
