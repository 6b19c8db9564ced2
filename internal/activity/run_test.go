package activity

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAddProblemCapsTheMessage: a kept message is at most
// MaxProblemMessage bytes, cut on a character boundary and marked; a short
// one is kept as is.
func TestAddProblemCapsTheMessage(t *testing.T) {
	var r Run
	r.AddProblem(Problem{Line: 1, Kind: ProblemInvalid, Message: "short"})
	r.AddProblem(Problem{Line: 2, Kind: ProblemInvalid, Message: "x" + strings.Repeat("é", 10_000)})
	if r.Problems[0].Message != "short" {
		t.Errorf("short message changed: %q", r.Problems[0].Message)
	}
	m := r.Problems[1].Message
	if len(m) > MaxProblemMessage || len(m) < MaxProblemMessage-4 || !utf8.ValidString(m) || !strings.HasSuffix(m, "…") {
		t.Errorf("long message: %d bytes, valid UTF-8 %v: %q", len(m), utf8.ValidString(m), m)
	}
}
