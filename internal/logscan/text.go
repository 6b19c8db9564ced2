package logscan

import (
	"bytes"
	"net/netip"
)

// textParser finds every IPv4 and IPv6 address in a line of any text.
//
// A candidate is a maximal run of the characters an address is written
// with (digits, hex letters, '.', ':'). A run that touches a letter, a
// digit or '_' on either side is part of a word ("v1.2.3.4", "abc::1x")
// and is skipped. A dotted run must be exactly four decimal numbers of at
// most 255 without leading zeros, so versions ("1.2.3.4.5"), OIDs and
// dates ("2026.12.06") are not addresses; a trailing '.' (end of a
// sentence) is dropped. A run with colons must parse as IPv6 with at
// least two colons (so times "13:55:36" and MAC addresses fail) or be
// an IPv4 address followed by ":port".
type textParser struct{}

func (textParser) parse(b []byte, l *Line) error {
	i := 0
	for i < len(b) {
		if !addrChar(b[i]) {
			i++
			continue
		}
		start := i
		for i < len(b) && addrChar(b[i]) {
			i++
		}
		if (start > 0 && wordChar(b[start-1])) || (i < len(b) && wordChar(b[i])) {
			continue
		}
		if a, ok := textToken(b[start:i]); ok {
			l.Addrs = append(l.Addrs, Address{"text", a})
		}
	}
	return nil
}

func textToken(t []byte) (a netip.Addr, ok bool) {
	colon := bytes.IndexByte(t, ':')
	if colon < 0 {
		t = bytes.TrimSuffix(t, []byte{'.'})
		if bytes.Count(t, []byte{'.'}) != 3 {
			return a, false
		}
		return parseAddr(t)
	}
	if bytes.Count(t, []byte{':'}) == 1 {
		// 1.2.3.4:80
		if bytes.Count(t[:colon], []byte{'.'}) == 3 && allDigits(t[colon+1:]) {
			return parseAddr(t[:colon])
		}
		return a, false
	}
	t = bytes.TrimSuffix(t, []byte{'.'})
	if len(t) < 3 || bytes.Equal(t, []byte("::")) {
		return a, false
	}
	return parseAddr(t)
}

func allDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func addrChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':'
}

// wordChar: a letter or '_' next to a run makes it part of a word. (A
// digit or hex letter cannot be next to a maximal run.)
func wordChar(c byte) bool {
	return c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z' || c == '_'
}
