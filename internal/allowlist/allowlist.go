package allowlist

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gaissmai/bart"
)

// Entry is one allow-listed range.
type Entry struct {
	// Prefix is masked; a single address is a /32 or /128.
	Prefix  netip.Prefix `json:"cidr"`
	Comment string       `json:"comment"`
	AddedBy string       `json:"added_by,omitempty"`
	// AddedAt is zero for a built-in entry.
	AddedAt time.Time `json:"added_at,omitzero"`
	// BuiltIn marks a special-purpose range; RFC names its definition.
	BuiltIn bool   `json:"built_in"`
	RFC     string `json:"rfc,omitempty"`
}

// ParsePrefix parses a CIDR ("192.0.2.0/24") or a single address
// ("192.0.2.1", a /32 or /128) and masks it. IPv4-mapped IPv6 is read as
// IPv4, as the store keeps addresses.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR such as 192.0.2.0/24", s)
		}
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR such as 192.0.2.0/24", s)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// special lists the built-in ranges: every block of the IANA IPv4 and IPv6
// Special-Purpose Address Registries that is not globally reachable, plus
// multicast, NAT64 and the documentation ranges. Globally reachable
// anycast blocks (AS112, AMT) are left out: they are real, routed hosts.
var special = []struct{ cidr, name, rfc string }{
	{"0.0.0.0/8", "this network", "RFC 791"},
	{"10.0.0.0/8", "private use", "RFC 1918"},
	{"100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"},
	{"127.0.0.0/8", "loopback", "RFC 1122"},
	{"169.254.0.0/16", "link local", "RFC 3927"},
	{"172.16.0.0/12", "private use", "RFC 1918"},
	{"192.0.0.0/24", "IETF protocol assignments", "RFC 6890"},
	{"192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"},
	{"192.88.99.0/24", "6to4 relay anycast (deprecated)", "RFC 7526"},
	{"192.168.0.0/16", "private use", "RFC 1918"},
	{"198.18.0.0/15", "benchmarking", "RFC 2544"},
	{"198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"},
	{"203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"},
	{"224.0.0.0/4", "multicast", "RFC 5771"},
	{"240.0.0.0/4", "reserved", "RFC 1112"},
	{"255.255.255.255/32", "limited broadcast", "RFC 919"},
	{"::/128", "unspecified address", "RFC 4291"},
	{"::1/128", "loopback", "RFC 4291"},
	{"64:ff9b::/96", "IPv4/IPv6 translation (NAT64)", "RFC 6052"},
	{"64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215"},
	{"100::/64", "discard-only", "RFC 6666"},
	{"2001:2::/48", "benchmarking", "RFC 5180"},
	{"2001:10::/28", "ORCHID (deprecated)", "RFC 4843"},
	{"2001:db8::/32", "documentation", "RFC 3849"},
	{"3fff::/20", "documentation", "RFC 9637"},
	{"5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602"},
	{"fc00::/7", "unique local", "RFC 4193"},
	{"fe80::/10", "link-local unicast", "RFC 4291"},
	{"ff00::/8", "multicast", "RFC 4291"},
}

// Special returns the built-in special-purpose ranges, IPv4 first.
func Special() []Entry {
	out := make([]Entry, 0, len(special))
	for _, s := range special {
		out = append(out, Entry{Prefix: netip.MustParsePrefix(s.cidr), Comment: s.name, BuiltIn: true, RFC: s.rfc})
	}
	return out
}

// Matcher answers whether an address is allow-listed. It is safe for
// concurrent use once built.
type Matcher struct {
	t bart.Lite
	n int
}

// NewMatcher builds a matcher of entries, plus the special-purpose ranges
// if withSpecial.
func NewMatcher(entries []Entry, withSpecial bool) *Matcher {
	m := &Matcher{}
	if withSpecial {
		for _, e := range Special() {
			m.t.Insert(e.Prefix)
			m.n++
		}
	}
	for _, e := range entries {
		m.t.Insert(e.Prefix)
		m.n++
	}
	return m
}

// Contains reports whether a is in an allow-listed range. A nil Matcher
// contains nothing.
func (m *Matcher) Contains(a netip.Addr) bool {
	if m == nil || m.n == 0 {
		return false
	}
	return m.t.Lookup(a.Unmap())
}

// Overlaps reports whether any address of p is in an allow-listed range.
// A nil Matcher overlaps nothing.
func (m *Matcher) Overlaps(p netip.Prefix) bool {
	if m == nil || m.n == 0 {
		return false
	}
	return m.t.OverlapsPrefix(netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked())
}

// unmapBits is what an IPv4-mapped prefix loses when unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// Len is the number of ranges the matcher holds.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}
