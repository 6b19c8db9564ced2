package service

import (
	"context"
	"fmt"
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
	before, err := s.d.Store.Lookup(ctx, addr)
	if err != nil {
		return before, err
	}
	ind, err := s.d.Store.SetIndicatorStatus(ctx, addr, st)
	if err != nil {
		return ind, err
	}
	s.d.Changed()
	s.record(ctx, a, "indicator.status", ind.Addr.String(), statusDetail(before.Status, st, ""))
	return ind, nil
}

// StatusChange is a person's decision on the status of indicators, and
// why: the reason is kept in the audit log, the indicators' status history.
type StatusChange struct {
	Values []string
	Status string
	Reason string
}

// Limits of a StatusChange: a page of search results at most, and a reason
// of a few sentences.
const (
	MaxStatusChange = 100
	MaxReason       = 400
)

// ChangeStatus sets the status of every address of c, each recorded in
// the audit log with its status before, after, and the reason. Every
// address must be an indicator (else an error wrapping store.ErrNotFound
// naming it, and nothing changes).
func (s *Service) ChangeStatus(ctx context.Context, a Actor, c StatusChange) ([]indicator.Indicator, error) {
	addrs, err := parseStatusChange(c)
	if err != nil {
		return nil, err
	}
	st, _ := ParseStatus("status", c.Status)
	before := make([]indicator.Status, len(addrs))
	for i, addr := range addrs {
		ind, err := s.d.Store.Lookup(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		before[i] = ind.Status
	}
	out := make([]indicator.Indicator, 0, len(addrs))
	for i, addr := range addrs {
		ind, err := s.d.Store.SetIndicatorStatus(ctx, addr, st)
		if err != nil {
			if len(out) > 0 {
				s.d.Changed()
			}
			return out, err
		}
		out = append(out, ind)
		s.record(ctx, a, "indicator.status", ind.Addr.String(), statusDetail(before[i], st, c.Reason))
	}
	s.d.Changed()
	return out, nil
}

// parseStatusChange validates c, naming every bad field.
func parseStatusChange(c StatusChange) ([]netip.Addr, error) {
	var errs []error
	var addrs []netip.Addr
	switch {
	case len(c.Values) == 0:
		errs = append(errs, invalid("values", "select at least one indicator"))
	case len(c.Values) > MaxStatusChange:
		errs = append(errs, invalid("values", "select at most %d indicators at a time, not %d", MaxStatusChange, len(c.Values)))
	default:
		for _, v := range c.Values {
			addr, err := ParseAddr("values", v)
			if err != nil {
				errs = append(errs, err)
				break
			}
			addrs = append(addrs, addr)
		}
	}
	if _, err := ParseStatus("status", c.Status); err != nil {
		errs = append(errs, err)
	}
	reason := strings.TrimSpace(c.Reason)
	switch {
	case reason == "":
		errs = append(errs, invalid("reason", "say why, for the audit log and the indicators' status history"))
	case len(reason) > MaxReason:
		errs = append(errs, invalid("reason", "is %d bytes long: keep it to %d", len(reason), MaxReason))
	case strings.ContainsFunc(reason, func(r rune) bool { return r < ' ' && r != '\t' }):
		errs = append(errs, invalid("reason", "must be one line of text"))
	}
	if err := joinInvalid(errs...); err != nil {
		return nil, err
	}
	return addrs, nil
}

// statusDetail is an audit entry's detail for a status change:
// "Active → Whitelisted: reason".
func statusDetail(from, to indicator.Status, reason string) string {
	d := string(from) + " → " + string(to)
	if reason = strings.TrimSpace(reason); reason != "" {
		d += ": " + reason
	}
	return d
}
