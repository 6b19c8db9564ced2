package feed

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"forewarn/internal/activity"
)

// A deeply nested NDJSON row made a 14 KB problem message and a run record
// of hundreds of KB; every stored message is now capped.
func TestProblemMessagesAreCapped(t *testing.T) {
	h := newHarness(t, 0)
	var body strings.Builder
	for i := 0; i < activity.MaxProblems; i++ {
		body.WriteString(`{"ip":"198.51.100.1","importance":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}\n")
	}
	h.body(body.String())
	r := h.mustRun(Options{})
	if r.Dropped.Invalid != activity.MaxProblems {
		t.Fatalf("invalid rows: %+v", r.Dropped)
	}
	stored, err := h.st.Run(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Problems) != activity.MaxProblems {
		t.Fatalf("%d problems stored, want %d", len(stored.Problems), activity.MaxProblems)
	}
	for _, p := range stored.Problems {
		if len(p.Message) > 512 {
			t.Fatalf("stored message of %d bytes, want at most %d: %.80q…", len(p.Message), 512, p.Message)
		}
	}
	rec, _ := json.Marshal(stored)
	if len(rec) > 16<<10 {
		t.Errorf("run record is %d bytes", len(rec))
	}
}
