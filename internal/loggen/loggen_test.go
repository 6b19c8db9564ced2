package loggen

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func opts() Options {
	return Options{
		Lines: 5000, HitRate: 0.1, Seed: 3, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Hits:   []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::1")},
		Others: []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("203.0.113.3")},
	}
}

func TestGenerateIsDeterministicAndKnowsItsHits(t *testing.T) {
	var a, ah, b, bh bytes.Buffer
	st, err := Generate(context.Background(), &a, &ah, opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(context.Background(), &b, &bh, opts()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(ah.Bytes(), bh.Bytes()) {
		t.Fatal("same options, different output")
	}
	lines := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
	if st.Lines != 5000 || len(lines) != HeaderLines+5000+1 || st.Hits < 400 || st.Hits > 600 {
		t.Fatalf("%d lines (%d in the file), %d hits", st.Lines, len(lines), st.Hits)
	}
	// Every hit line holds its hit address in the field named, and no
	// other line holds a hit address.
	hit := map[string]string{}
	for _, h := range strings.Split(strings.TrimSpace(ah.String()), "\n") {
		f := strings.Split(h, "\t")
		hit[f[0]] = f[1] + "=" + f[2]
	}
	for i, l := range lines[HeaderLines : HeaderLines+5000] {
		f := strings.Split(l, "\t")
		n := strconv.Itoa(HeaderLines + i + 1)
		orig, resp := "id.orig_h="+f[2], "id.resp_h="+f[4]
		want, isHit := hit[n]
		switch {
		case isHit && want != orig && want != resp:
			t.Fatalf("line %s: %s is not %s", n, l, want)
		case !isHit && (strings.Contains(l, "198.51.100.1\t") || strings.Contains(l, "2001:db8::1\t")):
			t.Fatalf("line %s holds a hit address but is not listed as a hit: %s", n, l)
		}
	}
}

func TestValidate(t *testing.T) {
	o := opts()
	o.HitRate = 1.5
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "from 0 to 1") {
		t.Fatalf("hit rate: %v", err)
	}
	o = opts()
	o.Hits = nil
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "lists no Active indicator") {
		t.Fatalf("no hits: %v", err)
	}
}
