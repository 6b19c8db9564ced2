package ui

import (
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/indicators?q=1.2.3.4", "/indicators?q=1.2.3.4"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		// Browsers drop tab, CR and LF from a Location, and read "\\"
		// as "/": each of these would leave for evil.example (issue 13 D12).
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"\t//evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"/\x7f/evil.example", "/"},
		{"/\u0085/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%5c/evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"///evil.example", "/"},
		{"/ /evil.example", "/ /evil.example"},
		{"https:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
		{"/indicators/1.2.3.4?tab=cluster#x", "/indicators/1.2.3.4?tab=cluster#x"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := safeNext(tc.in); got != tc.want {
				t.Errorf("safeNext(%q) = %q, want %q: a sign-in must not redirect off the site", tc.in, got, tc.want)
			}
		})
	}
}
