package service

import (
	"context"
	"net/netip"
	"strings"

	"forewarn/internal/allowlist"
)

// MaxComment bounds an allow-list entry's comment.
const MaxComment = 1000

// parsePrefix reads a CIDR or a single address.
func parsePrefix(cidr string) (netip.Prefix, error) {
	if len(cidr) > 128 {
		return netip.Prefix{}, invalid("cidr", "is %d bytes long, which no CIDR is", len(cidr))
	}
	p, err := allowlist.ParsePrefix(cidr)
	if err != nil {
		return p, invalid("cidr", "%v", err)
	}
	return p, nil
}

// AddAllowlistEntry adds cidr (a CIDR or one address) to the allow-list,
// added by the actor, and whitelists the stored indicators in it. It
// returns the entry as stored and how many indicators it whitelisted. A
// range already listed is an error wrapping store.ErrConflict.
func (s *Service) AddAllowlistEntry(ctx context.Context, a Actor, cidr, comment string) (allowlist.Entry, int64, error) {
	p, err1 := parsePrefix(cidr)
	var err2 error
	comment = strings.TrimSpace(comment)
	if len(comment) > MaxComment {
		err2 = invalid("comment", "is %d bytes long: shorten it to %d", len(comment), MaxComment)
	}
	if err := joinInvalid(err1, err2); err != nil {
		return allowlist.Entry{}, 0, err
	}
	e, n, err := s.d.Store.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: p, Comment: comment, AddedBy: a.Name})
	if err != nil {
		return e, 0, err
	}
	if n > 0 {
		s.d.Changed()
	}
	s.record(ctx, a, "allowlist.add", e.Prefix.String(), "whitelisted "+itoa(n)+" indicators")
	return e, n, nil
}

// RemoveAllowlistEntry removes a person's entry; the indicators it
// whitelisted stay Whitelisted. A range not listed is an error wrapping
// store.ErrNotFound.
func (s *Service) RemoveAllowlistEntry(ctx context.Context, a Actor, cidr string) (netip.Prefix, error) {
	p, err := parsePrefix(cidr)
	if err != nil {
		return p, err
	}
	if err := s.d.Store.RemoveAllowlistEntry(ctx, p); err != nil {
		return p, err
	}
	s.record(ctx, a, "allowlist.remove", p.String(), "")
	return p, nil
}
