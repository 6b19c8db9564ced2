package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
	"forewarn/internal/store"
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

// DateFilter is a search's date range: the indicators whose Field date
// (store.DateFields) is at or after From and before Until; a zero bound
// is open.
type DateFilter struct {
	Field       string
	From, Until time.Time
}

// maxDateText bounds each part of a date filter as typed.
const maxDateText = 40

// ParseDateFilter reads a search's date filter as the API and the UI take
// it: field is predicted or detected (empty is predicted), from and until
// are each a month (2026-03), a date (2026-03-31) or an RFC 3339 time;
// until is exclusive, and a month or date until means its start. All
// three empty is no filter. Every refused part is named at once.
func ParseDateFilter(field, from, until string) (DateFilter, error) {
	var f DateFilter
	field, from, until = strings.TrimSpace(field), strings.TrimSpace(from), strings.TrimSpace(until)
	if field == "" && from == "" && until == "" {
		return f, nil
	}
	var errs []error
	f.Field = field
	if f.Field == "" {
		f.Field = "predicted"
	}
	if len(field) > maxDateText || !slices.Contains(store.DateFields, f.Field) {
		errs = append(errs, invalid("date", "must be predicted or detected (which date the range keeps), not %q", clip(field)))
	}
	parse := func(name, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		if len(v) <= maxDateText {
			if t, err := time.Parse("2006-01", v); err == nil {
				return t
			}
			if t, err := ParseTime(name, v); err == nil {
				return *t
			}
		}
		errs = append(errs, invalid(name, "must be a month (2026-03), a date (2026-03-31) or an RFC 3339 time (2026-03-31T12:00:00Z), not %q", clip(v)))
		return time.Time{}
	}
	f.From, f.Until = parse("from", from), parse("until", until)
	if !f.From.IsZero() && !f.Until.IsZero() && !f.Until.After(f.From) {
		errs = append(errs, invalid("until", "must be after from (%s): until is the first moment left out", f.From.Format(time.RFC3339)))
	}
	if err := joinInvalid(errs...); err != nil {
		return DateFilter{}, err
	}
	return f, nil
}

// clip shortens a refused input for its message.
func clip(s string) string {
	if len(s) > maxDateText {
		return s[:maxDateText] + "…"
	}
	return s
}
