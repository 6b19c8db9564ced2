package allowlist

import (
	"net/netip"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{" 10.1.2.3/8 ", "10.0.0.0/8"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePrefix(tc.in)
			if err != nil || got.String() != tc.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "example.com", "192.0.2.0/33", "1.2.3"} {
		if _, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", bad)
		}
	}
}

func TestMatcher(t *testing.T) {
	mine := []Entry{{Prefix: netip.MustParsePrefix("102.140.192.0/24")}}
	on, off := NewMatcher(mine, true), NewMatcher(mine, false)
	for _, tc := range []struct {
		addr    string
		on, off bool
	}{
		{"10.1.2.3", true, false},
		{"192.168.0.1", true, false},
		{"127.0.0.1", true, false},
		{"203.0.113.9", true, false},
		{"100.64.0.1", true, false},
		{"::1", true, false},
		{"fe80::1", true, false},
		{"2001:db8::5", true, false},
		{"::ffff:10.0.0.1", true, false},
		{"102.140.192.77", true, true},
		{"8.8.8.8", false, false},
		{"2606:4700::1111", false, false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := on.Contains(a); got != tc.on {
			t.Errorf("with special ranges: Contains(%s) = %v, want %v", a, got, tc.on)
		}
		if got := off.Contains(a); got != tc.off {
			t.Errorf("without special ranges: Contains(%s) = %v, want %v", a, got, tc.off)
		}
	}
	var none *Matcher
	if none.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("a nil matcher contains something")
	}
}

func TestSpecialRangesAreMasked(t *testing.T) {
	for _, e := range Special() {
		if e.Prefix != e.Prefix.Masked() || e.RFC == "" || e.Comment == "" {
			t.Errorf("built-in %v: unmasked or undocumented", e)
		}
	}
}
