package pivot

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"Shodan=https://www.shodan.io/host/{ip}", ""},
		{" GreyNoise = https://viz.greynoise.io/ip/{ip}?x=1 ", ""},
		{"https://www.shodan.io/host/{ip}", "NAME=URL"},
		{"=https://x.example/{ip}", "NAME=URL"},
		{"Shodan=https://www.shodan.io/host/", "has no {ip}"},
		{"Local=/indicators/{ip}", "absolute http or https"},
		{"JS=javascript:alert('{ip}')", "absolute http or https"},
		{"Creds=https://user:pw@x.example/{ip}", "user info"},
		{"Bad=https://x.example/%zz/{ip}", "does not parse"},
		{strings.Repeat("n", MaxName+1) + "=https://x.example/{ip}", "longer than"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Parse(%q) = %v, want an error saying %q", tc.in, err, tc.err)
			}
		})
	}
}

func TestURL(t *testing.T) {
	l, err := Parse("Shodan=https://www.shodan.io/host/{ip}#{ip}")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.URL(netip.MustParseAddr("102.140.192.1")); got != "https://www.shodan.io/host/102.140.192.1#102.140.192.1" {
		t.Errorf("URL = %s", got)
	}
	if got := l.URL(netip.MustParseAddr("fe80::1%eth0")); !strings.Contains(got, "/host/fe80::1%25eth0#") {
		t.Errorf("an address with a zone is not escaped: %s", got)
	}
}

func TestParseAll(t *testing.T) {
	if l, err := ParseAll(nil); err != nil || len(l) != 0 {
		t.Errorf("no pivots: %v %v, want none (nothing leaks by default)", l, err)
	}
	_, err := ParseAll([]string{"A=https://a.example/{ip}", "A=https://b.example/{ip}", "B=nope"})
	if err == nil || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), "has no {ip}") {
		t.Errorf("ParseAll: %v, want both problems named", err)
	}
	many := make([]string, MaxLinks+1)
	for i := range many {
		many[i] = "x=https://x.example/{ip}"
	}
	if _, err := ParseAll(many); err == nil {
		t.Error("more than MaxLinks accepted")
	}
}
