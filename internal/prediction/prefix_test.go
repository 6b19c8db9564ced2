package prediction

import (
	"net/netip"
	"testing"
)

// TestParsePrefixAgreesWithStandardLibrary: the allocation-free path for
// IPv4 prefixes accepts and refuses exactly what netip.ParsePrefix does.
func TestParsePrefixAgreesWithStandardLibrary(t *testing.T) {
	for _, s := range []string{
		"198.51.100.0/24", "198.51.100.7/32", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/08", "10.0.0.0/00",
		"10.0.0.0/33", "10.0.0.0/", "/24", "10.0.0.0/+8", "10.0.0.0/-1", "10.0.0.0/ 8", "10.0.0.0/8 ",
		"010.0.0.0/8", "10.0.0/8", "10.0.0.0.0/8", "256.0.0.0/8", "10.0.0.0/100", "10.0.0.0/3a",
		"2001:db8::/32", "::ffff:10.0.0.0/104", "fe80::1%eth0/64", "10.0.0.0", "", "1.2.3.4/1/2",
	} {
		want, err := netip.ParsePrefix(s)
		wantOK := err == nil && want.Addr().Zone() == ""
		if !wantOK {
			want = netip.Prefix{}
		}
		got, ok := parsePrefix([]byte(s))
		if ok != wantOK || got != want {
			t.Errorf("parsePrefix(%q) = %v, %v; netip.ParsePrefix gives %v, %v", s, got, ok, want, wantOK)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parsePrefix([]byte("198.51.100.0/24")) }); n != 0 {
		t.Errorf("parsePrefix of an IPv4 prefix allocates %v times", n)
	}
}
