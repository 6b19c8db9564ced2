package prediction

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"

	"forewarn/internal/dump"
)

// parseField runs the parser on a valid row whose column c holds v.
func parseField(t *testing.T, c dump.Column, v []byte, list [][]byte) Row {
	t.Helper()
	return parseFieldIP(t, "192.0.2.1", c, v, list)
}

// parseFieldIP is parseField for a row with address ip.
func parseFieldIP(t *testing.T, ip string, c dump.Column, v []byte, list [][]byte) Row {
	t.Helper()
	var rec dump.Record
	rec.Line = 2
	rec.Fields[dump.IP] = []byte(ip)
	rec.Fields[dump.Importance] = []byte("50")
	rec.Fields[c] = v
	rec.Lists[c] = list
	var p Parser
	var row Row
	if err := p.Parse(&rec, &row); err != nil {
		t.Fatalf("a row with only %s = %q set was rejected: %v", c, v, err)
	}
	return row
}

// FuzzNetblock checks CIDR canonicalisation of predicted_netblock: a value
// netip accepts without a zone, no wider than /16 (IPv4) or /32 (IPv6),
// is stored masked, in canonical text that parses back to itself,
// IPv4-mapped prefixes of /96 or longer as IPv4, when it contains the
// row's address; anything else is dropped with one warning, never
// rejecting the row. The row's address is the netblock's own address, and
// then an address outside it.
func FuzzNetblock(f *testing.F) {
	for _, s := range []string{"102.140.192.0/24", "102.140.192.7/24", "1.2.3.0/33", "::ffff:1.2.3.4/120", "::ffff:1.2.3.4/64",
		"2001:db8::1/48", "fe80::1%eth0/64", "1.2.3.4", "0.0.0.0/0", "1.2.3.4/024", " 1.2.3.0/24", "::/0", "1.2.3.4/-1",
		"10.0.0.0/15", "10.0.0.0/16", "2001:db8::/31", "2001:db8::/32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := bytes.TrimSpace([]byte(s)) // the Reader trims every field
		want, err := netip.ParsePrefix(string(v))
		ip := "192.0.2.1"
		if err == nil && want.Addr().Zone() == "" {
			ip = want.Addr().Unmap().String()
		}
		row := parseFieldIP(t, ip, dump.PredictedNetblock, v, nil)
		if len(v) == 0 {
			if row.PredictedNetblock.IsValid() || len(row.Warnings) != 0 {
				t.Fatalf("empty netblock gave %v, warnings %v", row.PredictedNetblock, row.Warnings)
			}
			return
		}
		if err != nil || want.Addr().Zone() != "" {
			if row.PredictedNetblock.IsValid() || len(row.Warnings) != 1 {
				t.Fatalf("%q: netip refuses it (%v), but got %v with warnings %v", v, err, row.PredictedNetblock, row.Warnings)
			}
			return
		}
		addr, bits := want.Addr(), want.Bits()
		if addr.Is4In6() && bits >= 96 {
			addr, bits = addr.Unmap(), bits-96
		}
		if addr.Is4In6() {
			// The row's address is IPv4: an IPv6 netblock cannot hold it.
			if row.PredictedNetblock.IsValid() || len(row.Warnings) != 1 {
				t.Fatalf("%q: IPv6 netblock of IPv4 %v, but got %v with warnings %v", v, addr, row.PredictedNetblock, row.Warnings)
			}
			return
		}
		if widest := map[bool]int{true: 16, false: 32}[addr.Is4()]; bits < widest {
			if row.PredictedNetblock.IsValid() || len(row.Warnings) != 1 {
				t.Fatalf("%q: wider than /%d, but got %v with warnings %v", v, widest, row.PredictedNetblock, row.Warnings)
			}
			return
		}
		got := row.PredictedNetblock
		if !got.IsValid() || len(row.Warnings) != 0 {
			t.Fatalf("%q: netip accepts it as %v, but got %v with warnings %v", v, want, got, row.Warnings)
		}
		if got != got.Masked() {
			t.Fatalf("%q: stored %v is not masked", v, got)
		}
		if back, err := netip.ParsePrefix(got.String()); err != nil || back != got {
			t.Fatalf("%q: stored %v does not parse back to itself (%v, %v)", v, got, back, err)
		}
		if addr.Is4() != want.Addr().Is4() && (!got.Addr().Is4() || got.Bits() != bits) {
			t.Fatalf("%q: mapped prefix stored as %v, want the IPv4 /%d", v, got, bits)
		}
		if !got.Contains(addr) {
			t.Fatalf("%q: stored %v does not contain %v", v, got, addr)
		}
		// An address outside the netblock drops it.
		outside := netipx.PrefixLastIP(got).Next()
		if !outside.IsValid() {
			outside = got.Masked().Addr().Prev()
		}
		row = parseFieldIP(t, outside.String(), dump.PredictedNetblock, v, nil)
		if row.PredictedNetblock.IsValid() || len(row.Warnings) != 1 {
			t.Fatalf("%q with ip %v outside it: got %v with warnings %v", v, outside, row.PredictedNetblock, row.Warnings)
		}
	})
}

// FuzzLists checks the splitting of list columns (detected_by,
// detected_identifiers, detected_categories) against a plain reference: a
// CSV value is split on ';', '|' and ','; NDJSON array elements are not
// split; every value is cleaned (invalid UTF-8 bytes replaced with U+FFFD,
// C0 controls but tab removed) and trimmed, empty values and repeats dropped, order
// kept; categories are lower-cased (ASCII). The sep byte turns the input
// into NDJSON elements: s is cut at each sep.
func FuzzLists(f *testing.F) {
	for _, s := range []string{"malicious,Spam", "a;b|c , a", " ;;,| ", "MALICIOUS;malicious", "x\u00a0,\u00a0y", "Ärger,ärger"} {
		f.Add(s, byte(0))
		f.Add(s, byte(';'))
	}
	f.Fuzz(func(t *testing.T, s string, sep byte) {
		v := bytes.TrimSpace([]byte(s))
		var elems [][]byte
		var want []string
		if sep != 0 {
			for e := range strings.SplitSeq(s, string(sep)) {
				elems = append(elems, bytes.TrimSpace([]byte(e)))
			}
			v = nil
			for _, e := range elems {
				want = appendValue(want, string(e))
			}
		} else {
			for _, e := range strings.FieldsFunc(string(v), func(r rune) bool { return r == ';' || r == '|' || r == ',' }) {
				want = appendValue(want, e)
			}
		}
		for _, c := range []dump.Column{dump.DetectedBy, dump.DetectedIdentifiers, dump.DetectedCategories} {
			// The parser lower-cases categories in place: give each column
			// its own copy.
			in := bytes.Clone(v)
			var list [][]byte
			for _, e := range elems {
				list = append(list, bytes.Clone(e))
			}
			row := parseField(t, c, in, list)
			got := map[dump.Column][][]byte{
				dump.DetectedBy: row.DetectedBy, dump.DetectedIdentifiers: row.DetectedIdentifiers, dump.DetectedCategories: row.DetectedCategories,
			}[c]
			w := want
			if c == dump.DetectedCategories {
				w = nil
				for _, e := range want {
					w = appendValue(w, lowerASCIIString(e))
				}
			}
			gs := make([]string, len(got))
			for i, g := range got {
				gs[i] = string(g)
			}
			if !slices.Equal(gs, w) {
				t.Fatalf("%s of %q (sep %q): got %q, want %q", c, s, sep, gs, w)
			}
		}
	})
}

func appendValue(list []string, v string) []string {
	v = strings.TrimSpace(cleanText(v))
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cleanText is the reference for text cleaning: ranging over a string
// yields U+FFFD for each invalid byte.
func cleanText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
