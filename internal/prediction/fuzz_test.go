package prediction

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzParseIP checks the fast IPv4 path and the IPv6 path against net/netip:
// whatever we accept, netip accepts with the same canonical value, and we
// refuse only leading zeros, zones and non-addresses.
func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "010.1.2.3", "255.255.255.255", "256.0.0.1", "::ffff:1.2.3.4", "fe80::1%eth0", "2001:db8::1", "1.2.3", "", "0.0.0.0", "1..2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseIP([]byte(s))
		want, err := netip.ParseAddr(s)
		if ok {
			if err != nil || want.Unmap() != got || want.Zone() != "" {
				t.Fatalf("ParseIP(%q) = %v, but netip says %v, %v", s, got, want, err)
			}
			if got.Is4In6() {
				t.Fatalf("ParseIP(%q) = %v is not unmapped", s, got)
			}
			return
		}
		if err == nil && want.Zone() == "" {
			t.Fatalf("ParseIP(%q) refused an address netip accepts (%v)", s, want)
		}
	})
}

// FuzzParseDate checks the hand-written date parser against time.Parse.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2021-02-09T00:00:00", "2021-02-09", "2021-02-09 13:14:15", "2024-02-29", "2023-02-29", "2021-02-09T00:00:00Z", "2021-02-09T02:00:00+02:00", "9999-12-31T23:59:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseDate([]byte(s))
		var want time.Time
		var err error
		switch len(s) {
		case 10:
			want, err = time.Parse("2006-01-02", s)
		case 19:
			want, err = time.Parse("2006-01-02T15:04:05", strings.Replace(s, " ", "T", 1))
			if err == nil && s[10] != ' ' && s[10] != 'T' {
				err = errFormat
			}
		default:
			return // offsets and fractions go to time.Parse itself
		}
		if ok != (err == nil) {
			t.Fatalf("ParseDate(%q) ok=%v, time.Parse err=%v", s, ok, err)
		}
		if ok && got != want.Unix() {
			t.Fatalf("ParseDate(%q) = %d, want %d", s, got, want.Unix())
		}
	})
}

var errFormat = &time.ParseError{Message: "separator"}
