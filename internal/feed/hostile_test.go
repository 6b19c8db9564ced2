package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// A list used to be de-duplicated by scanning it for every value, and an
// address's rows unioned by sorted insertion: one 1 MiB line with 100,000
// distinct identifiers took a minute, one address repeated 300,000 times
// with distinct identifiers three. Both now take time linear in the values,
// and each list keeps at most merge.MaxListValues values, the newest.
func TestHostileListsAreLinearAndCapped(t *testing.T) {
	const budget = 5 * time.Second
	t.Run("one line with 100,000 identifiers", func(t *testing.T) {
		h := newHarness(t, 0)
		var b strings.Builder
		b.WriteString("ip,detected_identifiers,last_seen_at,importance\n198.51.100.1,\"")
		for i := range 100_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "ident%05d", i)
		}
		b.WriteString("\",2022-11-27,90\n")
		h.body(b.String())
		r := h.timedRun(t, budget, "context=all", "max_line=2MiB")
		checkCapped(t, h, r, "198.51.100.1", "ident98999", "ident99000")
	})
	t.Run("one address repeated 300,000 times", func(t *testing.T) {
		h := newHarness(t, 0)
		const rows = 300_000
		// Identifiers in shuffled order (7919 is prime to rows), so that
		// a sorted insertion moves half the list each time.
		ident := func(i int) string { return fmt.Sprintf("i%06d", i*7919%rows) }
		b := []byte("ip,detected_identifiers,last_seen_at,importance\n")
		for i := range rows {
			// Later rows are newer (one second apart): the newest 1,000
			// identifiers are those of the last 1,000 rows.
			b = fmt.Appendf(b, "198.51.100.2,%s,", ident(i))
			b = time.Unix(1.6e9+int64(i), 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
			b = append(b, ",90\n"...)
		}
		h.body(string(b))
		r := h.timedRun(t, budget, "context=all")
		checkCapped(t, h, r, "198.51.100.2", ident(rows-1001), ident(rows-1000))
	})
}

// timedRun runs the feed and fails the test if it used more than budget of
// CPU time. CPU time, not wall time: the machine running the tests may be
// loaded, and what is checked is the work done, which a quadratic step
// multiplies by thousands. Under the race detector the budget is scaled by
// raceSlowdown.
func (h *harness) timedRun(t *testing.T, budget time.Duration, settings ...string) *activity.Run {
	t.Helper()
	start, cpu := time.Now(), cpuTime(t)
	r := h.mustRun(Options{}, append(settings, "threshold=0", "categories=")...)
	used := cpuTime(t) - cpu
	if used > budget*raceSlowdown {
		t.Errorf("run used %v of CPU time (%v of wall time), want under %v", used, time.Since(start), budget)
	}
	t.Logf("run used %v of CPU time, %v of wall time", used, time.Since(start))
	return r
}

// cpuTime is the CPU time the test process has used so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// checkCapped checks that ip kept exactly the newest MaxListValues
// identifiers, the oldest of them first, and that the run warned once.
func checkCapped(t *testing.T, h *harness, r *activity.Run, ip, newestDropped, oldestKept string) {
	t.Helper()
	ids := attrs(h.lookup(ip))["Detected Identifiers"]
	if len(ids) != 1000 || !slices.Contains(ids, oldestKept) || slices.Contains(ids, newestDropped) {
		t.Errorf("kept %d identifiers (%q…), want the newest 1000 from %s", len(ids), ids[:min(3, len(ids))], oldestKept)
	}
	n := 0
	for _, p := range r.Problems {
		if strings.Contains(p.Message, "newest") {
			n++
		}
	}
	if n != 1 || r.Warnings != 1 {
		t.Errorf("warnings %d, problems %v: want one warning about the cap", r.Warnings, r.Problems)
	}
}

// A NUL byte or invalid UTF-8 in a text field failed every run on
// PostgreSQL and passed on SQLite. Both now store the same cleaned text:
// invalid UTF-8 replaced by U+FFFD, C0 controls but tab removed (U+001F
// too, which joins stored lists), one warning per row. Run it with
// FOREWARN_TEST_BACKEND=postgres as well.
func TestTextIsCleanedTheSameOnBothBackends(t *testing.T) {
	h := newHarness(t, 0)
	h.body("ip,cluster,predicted_category,detected_identifiers,detected_categories,last_seen_at,importance\n" +
		"198.51.100.1,c\x00lu\xffster,sp\x01am,\"a\x1fb;tab\there\",Mal\x00icious,2022-11-27,90\n" +
		"198.51.100.2,\xc3\x28,ok,\"\x00;x\",botnet,2022-11-27,90\n" +
		"198.51.100.3,clean,spam,id,malicious,2022-11-27,90\n")
	r := h.mustRun(Options{}, "context=all", "threshold=0", "categories=")
	if r.IndicatorsCreated != 3 || r.Warnings != 2 {
		t.Fatalf("created %d, warnings %d (%v): want 3 created, one warning for each of the 2 dirty rows", r.IndicatorsCreated, r.Warnings, r.Problems)
	}
	for ip, want := range map[string]map[string][]string{
		"198.51.100.1": {"Cluster": {"clu\ufffdster"}, "Predicted Category": {"spam"}, "Detected Identifiers": {"ab", "tab\there"}, "Detected Categories": {"malicious"}},
		"198.51.100.2": {"Cluster": {"\ufffd("}, "Detected Identifiers": {"x"}},
	} {
		got := attrs(h.lookup(ip))
		for name, w := range want {
			if diff := cmp.Diff(w, got[name]); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", ip, name, diff)
			}
		}
	}
}
