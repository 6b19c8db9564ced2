package feeddef

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeepNestingIsRefusedQuickly: the YAML parser's time grows with the
// square of the nesting, so a deeply nested file (an upload through the
// API) is refused before parsing, quickly, at its line and column.
func TestDeepNestingIsRefusedQuickly(t *testing.T) {
	n := MaxDefinitionSize / 2
	for _, tc := range []struct{ src, want string }{
		{strings.Repeat("[", n), "1:33: collections nested more than 32 deep"},
		{"a: " + strings.Repeat("{b: ", n/4), "1:132: collections nested more than 32 deep"},
		{strings.Repeat("- ", n/2) + "x", "1:65: more than 32 sequences open on one line"},
		{"a:\n" + strings.Repeat(" ", n) + "b", "2:129: indented more than 128 columns"},
	} {
		start := time.Now()
		_, err := Parse([]byte(tc.src))
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.20q...: %v, want %s", tc.src, err, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.20q...: took %v", tc.src, d)
		}
	}
	// Brackets in quoted text and comments do not count.
	src := minimal + "description: '" + strings.Repeat("[", 100) + "'\nterms: \"" + strings.Repeat("{", 100) + "\" # " + strings.Repeat("[", 100) + "\n"
	if _, err := Parse([]byte(src)); err != nil {
		t.Fatal(err)
	}
}
