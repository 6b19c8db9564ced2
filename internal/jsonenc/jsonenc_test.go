package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

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
