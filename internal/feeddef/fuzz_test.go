package feeddef

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bodies to one definition of each format
// kind: no panic, no error but the fatal kinds, and every entry masked and
// no wider than its limit.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"ip,note\n192.0.2.1,\"a\"\"b\"\n", "1.2.3.0/24 ; SBL1\n; EOF", `{"cidr":"10.0.0.0/8"}` + "\n{\"type\":\"metadata\"}",
		"ExitNode A\nExitAddress 192.0.2.1 2024-01-01 00:00:00\n", "180.150.9.0\t180.150.9.255\t24\t1\tx\tAU\te\n",
		"\"unclosed\n", "\xef\xbb\xbf::ffff:1.2.3.4\r\n",
	} {
		f.Add(s)
	}
	defs := []*Definition{Builtin("seclytics"), Builtin("spamhaus-drop"), Builtin("spamhaus-drop-json"), Builtin("tor-exits"), Builtin("dshield"), Builtin("feodo"), Builtin("sslbl")}
	f.Fuzz(func(t *testing.T, body string) {
		for _, d := range defs {
			r, err := d.NewReader(strings.NewReader(body), Params{Settings: map[string]string{}})
			if err != nil {
				t.Fatal(err)
			}
			for {
				e, err := r.Next()
				if errors.Is(err, io.EOF) || errors.Is(err, ErrFormat) || errors.Is(err, ErrLineTooLong) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", d.ID, err)
				}
				if e.Prefix != e.Prefix.Masked() || !e.Prefix.IsValid() || e.Prefix.Addr().Is4In6() {
					t.Fatalf("%s: entry %v is not canonical", d.ID, e.Prefix)
				}
				if e.Prefix.Addr().Is4() && e.Prefix.Bits() < DefaultMaxPrefix4 {
					t.Fatalf("%s: entry %v is too wide", d.ID, e.Prefix)
				}
			}
		}
	})
}

// FuzzParse: any input either parses or fails with Problems, never
// panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add(BuiltinSource("seclytics"))
	f.Add([]byte("id: [x\n"))
	f.Add([]byte("a: &x 1\nb: *x\n<<: {c: 1}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v is not ErrInvalid", err)
			}
			return
		}
		if _, err := d.Settings(nil); err != nil {
			t.Fatalf("a valid definition's defaults do not resolve: %v", err)
		}
	})
}
