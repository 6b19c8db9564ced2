package logscan

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

// hit is one address of a line, flattened for comparison.
type hit struct {
	Line  int64
	Time  string
	Field string
	Addr  string
}

func scanAll(t testing.TB, data []byte, opts Options) (Format, []hit, int64) {
	t.Helper()
	s, err := New(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []hit
	for s.Next() {
		l := s.Line()
		ts := ""
		if !l.Time.IsZero() {
			ts = l.Time.Format(time.RFC3339Nano)
		}
		for _, a := range l.Addrs {
			out = append(out, hit{l.Number, ts, a.Field, a.Addr.String()})
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return s.Format(), out, s.Lines()
}

func TestDocumentedSamples(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format Format
		lines  int64
		want   []hit
	}{
		{"zeek_conn.log", FormatZeek, 12, []hit{
			{9, "2009-11-18T08:00:21.486539Z", "id.orig_h", "192.168.1.102"},
			{9, "2009-11-18T08:00:21.486539Z", "id.resp_h", "192.168.1.1"},
			{10, "2009-11-18T08:08:00.237254Z", "id.orig_h", "192.168.1.103"},
			{10, "2009-11-18T08:08:00.237254Z", "id.resp_h", "192.168.1.255"},
			{11, "2009-11-18T08:08:13.816224Z", "id.orig_h", "192.168.1.102"},
			{11, "2009-11-18T08:08:13.816224Z", "id.resp_h", "192.168.1.255"},
		}},
		{"zeek_conn.json", FormatZeek, 2, []hit{
			{1, "2009-11-18T08:00:21.486539Z", "id.orig_h", "192.168.1.102"},
			{1, "2009-11-18T08:00:21.486539Z", "id.resp_h", "192.168.1.1"},
			{2, "2020-02-26T03:40:03.724911Z", "id.orig_h", "193.10.255.99"},
			{2, "2020-02-26T03:40:03.724911Z", "id.resp_h", "141.9.40.50"},
		}},
		{"eve.json", FormatEve, 3, []hit{
			{1, "2017-04-07T21:24:37.251547Z", "src_ip", "192.168.2.14"},
			{1, "2017-04-07T21:24:37.251547Z", "dest_ip", "209.53.113.5"},
			{2, "2009-11-24T21:27:09.534255Z", "src_ip", "192.168.2.7"},
			{3, "2011-08-12T12:52:57.71636Z", "src_ip", "147.32.84.165"},
			{3, "2011-08-12T12:52:57.71636Z", "dest_ip", "78.40.125.4"},
		}},
		{"access.log", FormatCombined, 2, []hit{
			{1, "2000-10-10T20:55:36Z", "client", "127.0.0.1"},
			{2, "2026-12-06T11:02:03Z", "client", "2001:db8::7"},
		}},
		{"hosts.csv", FormatCSV, 4, []hit{
			{2, "2026-12-01T10:00:00Z", "src", "203.0.113.9"},
			{3, "2026-12-01T10:05:00Z", "src", "2001:db8::1"},
		}},
		{"notes.txt", FormatText, 3, []hit{
			{1, "", "text", "198.51.100.23"},
			{3, "", "text", "2001:db8:0:1::5"},
			{3, "", "text", "192.0.2.10"},
			{3, "", "text", "192.0.2.11"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, z := range []bool{false, true} {
				in := data
				if z {
					in = gz(t, data)
				}
				f, got, lines := scanAll(t, in, Options{})
				if f != tc.format {
					t.Errorf("gzip %v: detected %q, want %q", z, f, tc.format)
				}
				if lines != tc.lines {
					t.Errorf("gzip %v: %d lines, want %d", z, lines, tc.lines)
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("gzip %v: addresses (-want +got):\n%s", z, d)
				}
			}
		})
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestForcedFormatAndColumn(t *testing.T) {
	data, _ := os.ReadFile("testdata/hosts.csv")
	// --column picks one column; a header without it is refused by name.
	_, got, _ := scanAll(t, data, Options{Column: "src"})
	if len(got) != 2 {
		t.Fatalf("--column src: %v", got)
	}
	s, err := New(bytes.NewReader(data), Options{Column: "ip"})
	if err != nil {
		t.Fatal(err)
	}
	for s.Next() {
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), `no column "ip"`) || !strings.Contains(err.Error(), "time, host, src, note") {
		t.Fatalf("missing column: %v", err)
	}
	// Forcing text on a Zeek log finds every address, the header's none.
	zeek, _ := os.ReadFile("testdata/zeek_conn.log")
	f, got, _ := scanAll(t, zeek, Options{Format: FormatText})
	if f != FormatText || len(got) != 6 || got[0].Field != "text" {
		t.Fatalf("forced text: %s %v", f, got)
	}
	if _, err := ParseFormat("syslog"); err == nil || !strings.Contains(err.Error(), "zeek, eve, combined, csv or text") {
		t.Fatalf("unknown format: %v", err)
	}
}

func TestZeekHeaderVariants(t *testing.T) {
	// No #types: addresses by Zeek's naming; a custom separator and unset
	// marker; a set[addr] column when #types says so.
	log := "#separator \\x7c\n#unset_field|none\n#fields|ts|id.orig_h|id.resp_h|tx_hosts\n" +
		"1700000000.5|10.0.0.1|none|x\n" +
		"#fields|ts|tx_hosts\n#types|time|set[addr]\n1700000001|198.51.100.1,198.51.100.2\n"
	_, got, _ := scanAll(t, []byte(log), Options{Format: FormatZeek})
	want := []hit{
		{4, "2023-11-14T22:13:20.5Z", "id.orig_h", "10.0.0.1"},
		{7, "2023-11-14T22:13:21Z", "tx_hosts", "198.51.100.1"},
		{7, "2023-11-14T22:13:21Z", "tx_hosts", "198.51.100.2"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	// Data before any header is not Zeek: the error says what to do.
	s, _ := New(strings.NewReader("1.2.3.4\tfoo\n"), Options{Format: FormatZeek})
	for s.Next() {
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Fatalf("headerless zeek: %v", err)
	}
}

func TestLineTooLong(t *testing.T) {
	long := "198.51.100.1 " + strings.Repeat("x", 200) + "\n"
	s, err := New(strings.NewReader("198.51.100.2\n"+long), Options{Format: FormatText, MaxLine: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for s.Next() {
		n++
	}
	if n != 1 || !errors.Is(s.Err(), ErrLineTooLong) || !strings.Contains(s.Err().Error(), "line 2") {
		t.Fatalf("read %d lines, err %v", n, s.Err())
	}
}

func TestCorruptGzip(t *testing.T) {
	data, _ := os.ReadFile("testdata/zeek_conn.log")
	z := gz(t, bytes.Repeat(data, 50))
	// Cut early (detection reads the start) or late (a line reads it).
	for _, cut := range []int{len(z) / 2, len(z) - 10} {
		s, err := New(bytes.NewReader(z[:cut]), Options{})
		if err == nil {
			for s.Next() {
			}
			err = s.Err()
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "truncated or corrupt") {
			t.Fatalf("gzip cut at %d of %d: %v", cut, len(z), err)
		}
	}
}

func TestTextTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"from 203.0.113.7.", []string{"203.0.113.7"}},
		{"v 1.2.3.4.5 and 1.2.3 and 01.2.3.4 and 256.1.1.1", nil},
		{"at 12:30:45 on 2026-12-06T12:30:45Z", nil},
		{"::ffff:192.0.2.1 and ::1 and :: alone", []string{"192.0.2.1", "::1"}},
		{"host10.0.0.1 x_10.0.0.2 (10.0.0.3)", []string{"10.0.0.3"}},
		{"fe80::1%eth0", []string{"fe80::1"}},
	} {
		var l Line
		if err := (textParser{}).parse([]byte(tc.in), &l); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range l.Addrs {
			got = append(got, a.Addr.String())
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestDetect(t *testing.T) {
	for in, want := range map[string]Format{
		"":                        FormatText,
		"#fields\tts\n":           FormatZeek,
		`{"uid":"C1","ts":1}`:     FormatZeek,
		`{"event_type":"flow"}`:   FormatEve,
		"a,b\n1,2\n":              FormatText, // no address: not a log of addresses
		"ip,n\n192.0.2.1,2\n":     FormatCSV,
		"192.0.2.1 - - [x] \"GET": FormatText,
	} {
		if got := Detect([]byte(in)); got != want {
			t.Errorf("Detect(%q) = %q, want %q", in, got, want)
		}
	}
}

// The scanner does not allocate per line for Zeek TSV: a 5M-line log
// must not cost 5M allocations.
func TestZeekDoesNotAllocatePerLine(t *testing.T) {
	data, _ := os.ReadFile("testdata/zeek_conn.log")
	hdr, body, _ := bytes.Cut(data, []byte("1258531221"))
	body = append([]byte("1258531221"), body...)
	body = body[:bytes.Index(body, []byte("#close"))]
	in := append(bytes.Clone(hdr), bytes.Repeat(body, 2000)...)
	s, err := New(bytes.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ { // warm up
		s.Next()
	}
	allocs := testing.AllocsPerRun(1000, func() { s.Next() })
	if allocs > 0.01 {
		t.Fatalf("%.2f allocations per line", allocs)
	}
}

func FuzzScanner(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".md") {
			f.Add(b, "")
		}
	}
	f.Add([]byte("#separator \\x\n#fields\tts\n1\n"), "zeek")
	f.Add([]byte("a,\"b\n1.2.3.4,\"\n"), "csv")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		fm, err := ParseFormat(format)
		if err != nil {
			return
		}
		s, err := New(bytes.NewReader(data), Options{Format: fm, MaxLine: 4096})
		if err != nil {
			return
		}
		defer s.Close()
		for s.Next() {
			for _, a := range s.Line().Addrs {
				if !a.Addr.IsValid() || a.Addr.Is4In6() || a.Addr.Zone() != "" {
					t.Fatalf("bad address %v", a.Addr)
				}
			}
		}
	})
}

// A gzip log many times longer than the decompressor may run ahead (16
// chunks of 256 KiB) is read to its last line, each line once and in
// order; and a scan closed halfway returns instead of waiting forever on a
// decompressor blocked on chunks nobody will read.
func TestGzipLongerThanTheReadAhead(t *testing.T) {
	var b bytes.Buffer
	const lines = 300_000 // about 8 MiB
	for i := range lines {
		fmt.Fprintf(&b, "line %07d from 198.51.%d.%d padding padding\n", i, (i>>8)&255, i&255)
	}
	z := gz(t, b.Bytes())
	s, err := New(bytes.NewReader(z), Options{Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for s.Next() {
		l := s.Line()
		if want := netip.AddrFrom4([4]byte{198, 51, byte((n >> 8) & 255), byte(n & 255)}); len(l.Addrs) != 1 || l.Addrs[0].Addr != want {
			t.Fatalf("line %d: %+v, want %s", l.Number, l.Addrs, want)
		}
		n++
	}
	s.Close()
	if s.Err() != nil || n != lines {
		t.Fatalf("read %d lines of %d: %v", n, lines, s.Err())
	}

	s, err = New(bytes.NewReader(z), Options{Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	for range lines / 2 {
		s.Next()
	}
	// A decompressor left blocked would hang here until the test's
	// timeout.
	s.Close()
}
