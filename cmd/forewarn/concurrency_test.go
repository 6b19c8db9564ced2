package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
)

// TestSecondRunFailsAtOnce starts two runs of the feed on one store: the
// second fails at once with the documented message naming the first, which
// completes.
func TestSecondRunFailsAtOnce(t *testing.T) {
	b := baseline(t)
	db := filepath.Join(t.TempDir(), "f.db")
	copyFile(t, b.template, db)
	s := newServer(t)
	s.SetBody("a", b.dumps.v1)
	// The first run downloads slowly, so it surely holds the lock while
	// the second starts.
	s.SetFault(fakeseclytics.Fault{Rate: int64(len(b.dumps.v1)) / 3})
	first := start(t, runArgs(t, s, db)...)
	for s.sent.Load() == 0 {
		if first.exited() {
			t.Fatalf("the first run ended early: %s", first.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	second := start(t, runArgs(t, s, db)...)
	if code := second.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("second run: exit %d, want 1\n%s\n%s", code, second.stdout.String(), second.stderr.String())
	}
	want := regexp.MustCompile(fmt.Sprintf(`a run of seclytics is already in progress \(run \d+, started \S+ by process %d on \S+\)`, first.cmd.Process.Pid))
	if !want.MatchString(second.stderr.String()) {
		t.Errorf("second run says %q, want it to match %s", second.stderr.String(), want)
	}
	if second.took > 10*time.Second {
		t.Errorf("the second run took %s to fail, want at once", second.took)
	}
	if first.exited() {
		t.Error("the first run ended before the second failed: the test proves nothing")
	}
	if code := first.wait(t, 2*time.Minute); code != 0 || !strings.Contains(first.stdout.String(), "succeeded") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, first.stdout.String(), first.stderr.String())
	}
	rs := runs(t, db)
	if len(rs) != 2 || rs[0].Status != activity.StatusSucceeded {
		t.Errorf("activity log: %+v, want the template's run and the first run, succeeded", rs)
	}
	got, _ := export(t, db)
	if got.data != b.after.data {
		t.Error("the first run's result differs from a clean run's")
	}
}

// TestReadersNeverSeeHalfARun runs `forewarn export` and `forewarn lookup`
// in loops while a run merges a changed dump into the store. Every export
// is exactly the store before the run or the store after it; every lookup
// of an indicator the run changes shows its state before or after; no
// reader fails, waits long or reports "database is locked".
func TestReadersNeverSeeHalfARun(t *testing.T) {
	b := baseline(t)
	db := filepath.Join(t.TempDir(), "f.db")
	copyFile(t, b.template, db)
	ref := filepath.Join(workDir, "reference.db")

	// Addresses whose indicator the run changes, and how lookup shows them
	// before the run and after it.
	ips := changedAddresses(t, b.template, ref, 3)
	lookupBefore := map[string]string{}
	for _, ip := range ips {
		lookupBefore[ip] = forewarn(t, 0, "lookup", "--db", db, "--json", ip).stdout.String()
	}

	s := newServer(t)
	s.SetBody("a", b.dumps.v1)
	// The download is slowed to about two seconds, so that the readers
	// loop many times during the run while the dump stays small; the
	// merge and commit then run at full speed under them.
	s.SetFault(fakeseclytics.Fault{Rate: int64(len(b.dumps.v1)) / 2})
	run := start(t, runArgs(t, s, db)...)

	// Two readers loop until the run has ended: one exports the whole
	// store (into files, checked afterwards), one looks addresses up.
	type seen struct {
		what, out string
	}
	var (
		mu       sync.Mutex
		exports  []string
		spans    [][2]time.Time // of each export
		lookups  []seen
		problems []string
		wg       sync.WaitGroup
	)
	dir := t.TempDir()
	reader := func(args ...string) (string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = environ()
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		took := time.Since(began)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || stderr.Len() > 0 && !strings.HasPrefix(stderr.String(), "exported ") {
			problems = append(problems, fmt.Sprintf("forewarn %s: %v: %s", strings.Join(args, " "), err, stderr.String()))
		}
		if limit := 5 * time.Second; args[0] == "lookup" && took > limit {
			problems = append(problems, fmt.Sprintf("a lookup took %s, want under %s", took, limit))
		}
		return stdout.String(), err
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i == 0 || !run.exited(); i++ {
			file := filepath.Join(dir, fmt.Sprintf("export-%d.jsonl", i))
			began := time.Now()
			if _, err := reader("export", "--db", db, "-o", file); err == nil {
				mu.Lock()
				exports = append(exports, file)
				spans = append(spans, [2]time.Time{began, time.Now()})
				mu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i == 0 || !run.exited(); i++ {
			ip := ips[i%len(ips)]
			out, _ := reader("lookup", "--db", db, "--json", ip)
			mu.Lock()
			lookups = append(lookups, seen{ip, out})
			mu.Unlock()
		}
	}()
	// The merge has begun when the run says so (a progress line).
	var merging time.Time
	for deadline := time.Now().Add(2 * time.Minute); !run.exited() && time.Now().Before(deadline); {
		if merging.IsZero() && lastPhase(run.stderr.String()) == feed.PhaseMerge {
			merging = time.Now()
		}
		time.Sleep(2 * time.Millisecond) // polls the run's progress; run.wait below bounds it
	}
	ended := time.Now()
	wg.Wait()
	if code := run.wait(t, time.Minute); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, run.stderr.String())
	}
	lookupAfter := map[string]string{}
	for _, ip := range ips {
		lookupAfter[ip] = forewarn(t, 0, "lookup", "--db", db, "--json", ip).stdout.String()
	}
	for _, p := range problems {
		t.Error(p)
	}
	var before, after int
	for _, file := range exports {
		c := digest(t, file)
		switch {
		case c.exact == b.before.exact:
			before++
		case c.data == b.after.data:
			after++
		default:
			t.Errorf("an export during the run saw %d indicators matching neither the state before nor after it", c.lines)
		}
	}
	for _, l := range lookups {
		if l.out != lookupBefore[l.what] && l.out != lookupAfter[l.what] {
			t.Errorf("lookup %s during the run:\n%s\nwant before:\n%s\nor after:\n%s", l.what, l.out, lookupBefore[l.what], lookupAfter[l.what])
		}
	}
	overlapping := 0
	for _, sp := range spans {
		if !merging.IsZero() && sp[0].Before(ended) && sp[1].After(merging) {
			overlapping++
		}
	}
	t.Logf("%d exports (%d before, %d after, %d overlapping the merge and commit) and %d lookups during a %s run",
		len(exports), before, after, overlapping, len(lookups), run.took.Round(time.Millisecond))
	if overlapping == 0 || len(lookups) < 10 {
		t.Errorf("%d exports overlapped the merge and %d lookups ran: the test proves little", overlapping, len(lookups))
	}
}

// changedAddresses returns up to n addresses whose export line differs
// between the stores a and b.
func changedAddresses(t *testing.T, a, b string, n int) []string {
	t.Helper()
	var out []string
	la := strings.Split(forewarn(t, 0, "export", "--db", a).stdout.String(), "\n")
	lb := strings.Split(forewarn(t, 0, "export", "--db", b).stdout.String(), "\n")
	value := regexp.MustCompile(`"value":"([^"]+)","status"`)
	for i := 0; i < len(la) && i < len(lb) && len(out) < n; i++ {
		ca, cb := la[i], lb[i]
		if j := strings.LastIndex(ca, `,"created_at":`); j >= 0 {
			ca = ca[:j]
		}
		if j := strings.LastIndex(cb, `,"created_at":`); j >= 0 {
			cb = cb[:j]
		}
		if ca != cb {
			m := value.FindStringSubmatch(la[i])
			mb := value.FindStringSubmatch(lb[i])
			if m == nil || mb == nil || m[1] != mb[1] {
				t.Fatalf("exports differ in their addresses at line %d", i+1)
			}
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("no indicator changes between the two stores")
	}
	return out
}
