package service

import (
	"context"
	"net/netip"
	"strings"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
)

// Statuses are the statuses a person may set.
var Statuses = []indicator.Status{indicator.StatusActive, indicator.StatusReview, indicator.StatusWhitelisted, indicator.StatusExpired}

// ParseAddr reads an IP address as a person types it (IPv4-mapped IPv6 is
// read as IPv4, as the store keeps addresses).
func ParseAddr(field, v string) (netip.Addr, error) {
	if len(v) > maxAddrText {
		return netip.Addr{}, invalid(field, "is %d bytes long, which no IP address is", len(v))
	}
	a, ok := prediction.ParseIP([]byte(strings.TrimSpace(v)))
	if !ok {
		return netip.Addr{}, invalid(field, "%q is not an IP address", v)
	}
	return a, nil
}

// maxAddrText bounds what ParseAddr reads (and quotes back in an error).
const maxAddrText = 64

// ParseStatus reads a status, in any case.
func ParseStatus(field, v string) (indicator.Status, error) {
	for _, st := range Statuses {
		if strings.EqualFold(strings.TrimSpace(v), string(st)) {
			return st, nil
		}
	}
	if len(v) > 32 {
		v = v[:32] + "…"
	}
	return "", invalid(field, "must be Active, Review, Whitelisted or Expired, not %q", v)
}

// SetIndicatorStatus sets the status of the indicator at address value (a
// person's status survives later runs). An address that is not an
// indicator is an error wrapping store.ErrNotFound.
func (s *Service) SetIndicatorStatus(ctx context.Context, a Actor, value, status string) (indicator.Indicator, error) {
	addr, err1 := ParseAddr("value", value)
	st, err2 := ParseStatus("status", status)
	if err := joinInvalid(err1, err2); err != nil {
		return indicator.Indicator{}, err
	}
	ind, err := s.d.Store.SetIndicatorStatus(ctx, addr, st)
	if err != nil {
		return ind, err
	}
	s.d.Changed()
	s.record(ctx, a, "indicator.status", ind.Addr.String(), string(st))
	return ind, nil
}
