package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"forewarn/internal/store"
)

// leadTimeStore is what the lead-time report reads.
type leadTimeStore interface {
	LeadTimes(ctx context.Context, q store.LeadTimeQuery) (store.LeadTimeReport, error)
	ListFeedState(ctx context.Context, feed string) (store.ListFeedState, error)
}

// LeadTimeRequest narrows the lead-time report as a person typed it: Feed,
// the id of one list feed whose listings alone confirm (empty: any), and
// Since, a date or RFC 3339 time from which predictions count (empty: all).
type LeadTimeRequest struct {
	Feed, Since string
}

// LeadTimes reports the independent lead time of Seclytics' predictions:
// how long before a public list (a list feed) confirmed an address
// Seclytics predicted it, and how many were never confirmed or were
// confirmed first (see store.LeadTimes for what counts).
func (s *Service) LeadTimes(ctx context.Context, req LeadTimeRequest) (store.LeadTimeReport, error) {
	since, err := ParseTime("since", req.Since)
	if err != nil {
		return store.LeadTimeReport{}, err
	}
	q := store.LeadTimeQuery{Feed: strings.TrimSpace(req.Feed)}
	if since != nil {
		q.Since = *since
	}
	if q.Feed != "" {
		if _, err := s.d.Store.ListFeedState(ctx, q.Feed); errors.Is(err, store.ErrNotFound) {
			return store.LeadTimeReport{}, invalid("feed", "no list feed %q has run: give the id of a list feed that has run (forewarn runs shows them)", q.Feed)
		} else if err != nil {
			return store.LeadTimeReport{}, fmt.Errorf("lead times: %w", err)
		}
	}
	return s.d.Store.LeadTimes(ctx, q)
}
