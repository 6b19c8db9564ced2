package service

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// MaxSightings bounds one batch of sightings reported through the API.
const MaxSightings = 10_000

// maxRecorded bounds the distinct addresses one match --record holds in
// memory before it writes them all in one transaction.
const maxRecorded = 1_000_000

// sightingStore is what recording sightings writes.
type sightingStore interface {
	RecordSightings(ctx context.Context, sightings []store.Sighting, extends time.Duration, now time.Time) (int64, error)
}

// SightingInput is one sighting as a person or a SIEM reports it: the
// address, how often (0 means once), and when first and last (zero: now;
// a zero First is Last).
type SightingInput struct {
	IP          string
	Count       int64
	First, Last time.Time
}

// SightingsResult says how many sightings were recorded, and how many
// named an address that is no indicator (left out).
type SightingsResult struct {
	Recorded int64 `json:"recorded"`
	Unknown  int64 `json:"unknown"`
}

// RecordSightings records sightings of indicators in the owner's logs, all
// in one transaction: each indicator's count, first and last sighted, and
// (per the Seclytics feed's sighting_extends) how long the sighting keeps
// it Active. At most MaxSightings per call; addresses that are not
// indicators are counted, not stored.
func (s *Service) RecordSightings(ctx context.Context, a Actor, in []SightingInput) (SightingsResult, error) {
	now := time.Now().UTC()
	if len(in) == 0 {
		return SightingsResult{}, invalid("sightings", "is empty: report at least one sighting")
	}
	if len(in) > MaxSightings {
		return SightingsResult{}, invalid("sightings", "holds %d sightings: send at most %d per request", len(in), MaxSightings)
	}
	batch := make([]store.Sighting, 0, len(in))
	for i, sg := range in {
		v, err := validSighting(fmt.Sprintf("sightings[%d]", i), sg, now)
		if err != nil {
			return SightingsResult{}, err
		}
		batch = append(batch, v)
	}
	return s.recordSightings(ctx, a, batch, now)
}

func validSighting(field string, sg SightingInput, now time.Time) (store.Sighting, error) {
	addr, err := ParseAddr(field+".ip", sg.IP)
	if err != nil {
		return store.Sighting{}, err
	}
	if sg.Count < 0 || sg.Count > 1_000_000_000 {
		return store.Sighting{}, invalid(field+".count", "must be from 1 to 1000000000 (or left out for 1), not %d", sg.Count)
	}
	if sg.Count == 0 {
		sg.Count = 1
	}
	if sg.Last.IsZero() {
		sg.Last = now
	}
	if sg.First.IsZero() {
		sg.First = sg.Last
	}
	switch {
	case sg.First.After(sg.Last):
		return store.Sighting{}, invalid(field+".first_seen", "is after last_seen")
	case sg.First.Year() < 1970 || sg.Last.After(now.Add(24*time.Hour)):
		return store.Sighting{}, invalid(field+".last_seen", "must lie between 1970 and now, not %s", sg.Last.Format(indicator.TimeFormat))
	}
	return store.Sighting{Addr: addr, Count: sg.Count, First: sg.First.UTC(), Last: sg.Last.UTC()}, nil
}

// recordSightings writes a validated batch with the feed's
// sighting_extends and records who did it.
func (s *Service) recordSightings(ctx context.Context, a Actor, batch []store.Sighting, now time.Time) (SightingsResult, error) {
	cfg, _, err := s.d.Store.FeedConfig(ctx, "seclytics")
	if err != nil {
		return SightingsResult{}, fmt.Errorf("read sighting_extends: %w", err)
	}
	n, err := s.d.Store.RecordSightings(ctx, batch, cfg.SightingExtends.Duration(), now)
	if err != nil {
		return SightingsResult{}, err
	}
	distinct := map[netip.Addr]bool{}
	for _, sg := range batch {
		distinct[sg.Addr] = true
	}
	res := SightingsResult{Recorded: n, Unknown: int64(len(distinct)) - n}
	if n > 0 {
		s.d.Changed()
	}
	s.record(ctx, a, "sightings.record", "", fmt.Sprintf("%d indicators sighted, %d addresses not indicators, extending by %s",
		n, res.Unknown, cfg.SightingExtends))
	return res, nil
}
