package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"forewarn/internal/jsonenc"
)

// tricky are strings whose JSON encoding has escapes: quotes, backslashes,
// every control character, HTML's three, DEL, U+2028 and U+2029, invalid
// UTF-8 (a lone continuation byte, a truncated sequence, an overlong
// encoding, a surrogate), and multi-byte characters written as they are.
var tricky = func() []string {
	s := []string{"", "plain", `a"b`, `back\slash`, "<script>&amp;</script>", "\x7f", "line\u2028sep\u2029para",
		"\x80", "ab\xe2\x80", "\xc0\xaf", "\xed\xa0\x80", "héllo wörld ✓ 𝄞", "\xff\xfe", "tail\xe2"}
	var ctl strings.Builder
	for b := 0; b < 0x20; b++ {
		ctl.WriteByte(byte(b))
		s = append(s, string(rune(b)), "x"+string(rune(b))+"y")
	}
	return append(s, ctl.String())
}()

// want is encoding/json's encoding of v, with or without HTML escaping,
// without the Encoder's newline.
func want(t testing.TB, v any, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func check(t testing.TB, s string) {
	if got, w := string(jsonenc.AppendString(nil, s)), want(t, s, false); got != w {
		t.Errorf("AppendString(%q) = %s, encoding/json writes %s", s, got, w)
	}
	if got, w := string(jsonenc.AppendStringHTML([]byte("x"), s)), "x"+want(t, s, true); got != w {
		t.Errorf("AppendStringHTML(%q) = %s, encoding/json writes %s", s, got, w)
	}
}

func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, s := range tricky {
		check(t, s)
	}
	// Every single byte and every rune around the ones escaped.
	for b := 0; b < 256; b++ {
		check(t, "a"+string([]byte{byte(b)})+"z")
	}
	for _, r := range []rune{0x7ff, 0x800, 0x2027, 0x2028, 0x2029, 0x202a, 0xfffd, 0xffff, 0x10000, 0x10ffff} {
		check(t, string(r))
	}
}

func TestAppendStringsIsEncodingJSON(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {""}, {"a"}, tricky} {
		for _, html := range []bool{false, true} {
			if got, w := string(jsonenc.AppendStrings(nil, ss, html)), want(t, ss, html); got != w {
				t.Errorf("AppendStrings(%q, %v) = %s, encoding/json writes %s", ss, html, got, w)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}

func TestAppendStringBytes(t *testing.T) {
	for _, s := range tricky {
		if got, w := string(jsonenc.AppendString(nil, []byte(s))), want(t, s, false); got != w {
			t.Errorf("AppendString([]byte(%q)) = %s, encoding/json writes %s", s, got, w)
		}
	}
}

// TestAppendTimeIsAppendFormat: AppendTime writes what AppendFormat does,
// for the layouts it writes by hand and another, in UTC and not, for
// years of four digits and not, for nanoseconds that truncate.
func TestAppendTimeIsAppendFormat(t *testing.T) {
	layouts := []string{time.RFC3339, "2006-01-02T15:04:05Z", "2006-01-02T15:04:05.000Z", "2006-01-02T15:04:05.000000Z",
		"2006-01-02T15:04:05.000000+00:00", time.RFC3339Nano, time.DateOnly}
	times := []time.Time{{}, time.Unix(0, 0), time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6007008, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 1, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 7, 8, 9, 10, 123456789, time.FixedZone("x", 3600))}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		for _, l := range layouts {
			if got, want := string(jsonenc.AppendTime([]byte("x"), tm, l)), "x"+tm.Format(l); got != want {
				t.Errorf("AppendTime(%v, %q) = %s, AppendFormat writes %s", tm, l, got, want)
			}
		}
	}
}
