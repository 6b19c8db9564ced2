package store

import (
	"context"
	"io"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// genList is a generated list of n entries: nine hosts (10.0.0.0/8 and
// 2001:db8::/32) for every network (a /24 of 100.64.0.0/10 and up), with a
// Last Seen date. shift moves every tenth host, so that a re-run with
// shift changes 10%: 5% delisted, every twentieth entry, and 5% new, in
// one range of addresses for a large shift, or each right after an
// existing host for a shift of 1 (an odd number is no host's: IPv4 hosts
// are the even ones), as scattered as a real list's changes.
type genList struct {
	n, i, shift int
}

func (g *genList) Next() (ListEntry, error) {
	if g.i == g.n {
		return ListEntry{}, io.EOF
	}
	i := g.i
	g.i++
	e := ListEntry{LastSeen: time.Unix(1_700_000_000, 0)}
	switch {
	case i%10 == 9:
		v := uint32(100)<<24 + uint32(i/10)<<8
		e.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
	case i%2 == 0:
		if i%20 == 0 {
			i += g.shift
		}
		e.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10 + byte(i>>24), byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	default:
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[12], b[13], b[14], b[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		e.Prefix = netip.PrefixFrom(netip.AddrFrom16(b), 128)
	}
	return e, nil
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// cpuTime is the CPU time (user and system) the process used so far: on a
// loaded machine it measures a run's cost better than the wall clock.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestListMillion ingests FOREWARN_LIST_ENTRIES (1,000,000 when set to
// "1M") entries, re-runs them unchanged and with 10% changed, and checks
// that the peak RSS stays bounded whatever the size. It runs only when
// asked: a million entries take tens of seconds. The new entries of the
// 10%-changed run are one range of addresses; FOREWARN_LIST_SCATTERED=1
// scatters them among the others (see genList), as scripts/bench-list's
// random list does.
func TestListMillion(t *testing.T) {
	n := listEntries(t, "to measure a large list run")
	s := open(t)
	ctx := context.Background()
	before := peakRSS(t)
	run := func(name string, day, shift int) ListCounts {
		start, cpu0 := time.Now(), cpuTime(t)
		var (
			c   ListCounts
			err error
		)
		// The label lets -tagfocus=run=... pick one run out of a CPU profile.
		pprof.Do(ctx, pprof.Labels("run", name), func(ctx context.Context) {
			c, err = s.IngestList(ctx, listRun("big", ModeSnapshot, 50, day), &genList{n: n, shift: shift})
		})
		if err != nil {
			t.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%s: %s (CPU %s), %+v, peak RSS %d MiB (before the runs: %d MiB), Go heap obtained from the OS %d MiB, all Go memory %d MiB",
			name, time.Since(start).Round(time.Millisecond), (cpuTime(t) - cpu0).Round(time.Millisecond), c,
			peakRSS(t)>>20, before>>20, ms.HeapSys>>20, ms.Sys>>20)
		return c
	}
	if c := run("first run", 0, 0); c.Created != int64(n) {
		t.Fatalf("created %d, want %d", c.Created, n)
	}
	if c := run("unchanged re-run", 0, 0); c.Unchanged != int64(n) {
		t.Fatalf("unchanged %d, want %d", c.Unchanged, n)
	}
	shift := 1 << 23
	if os.Getenv("FOREWARN_LIST_SCATTERED") == "1" {
		shift = 1
	}
	c := run("10% changed", 0, shift)
	if c.Delisted != int64(n/20) || c.Created != int64(n/20) {
		t.Fatalf("10%% changed: %+v", c)
	}
	// The staging sort holds 32 MiB, SQLite's page cache 32 MiB, with the
	// collector's headroom and the read pool's caches: measured 190 MiB
	// over the three runs at 1M and at 2M entries alike (SQLite), 110 MiB
	// on PostgreSQL. A run that held its entries would grow with them.
	if grow := peakRSS(t) - before; grow > 256<<20 {
		t.Errorf("peak RSS grew by %d MiB over the runs", grow>>20)
	}
}

// TestListInsertFloor measures the floor under a list run's first ingest
// on this machine: a bare INSERT of FOREWARN_LIST_ENTRIES 16-byte keys
// into an empty WITHOUT ROWID table in one transaction, 1,000 rows per
// statement, nothing else (no staging, no second table, no index). A first
// run cannot be faster than this.
func TestListInsertFloor(t *testing.T) {
	n := listEntries(t, "to measure a bare insert of that many keys")
	s := open(t)
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	create := `CREATE TABLE floor_keys (ip BLOB PRIMARY KEY) WITHOUT ROWID`
	if s.d == postgresDialect {
		create = `CREATE TABLE floor_keys (ip bytea PRIMARY KEY)`
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		t.Fatal(err)
	}
	const chunk = 1000
	insert := func(rows int) string {
		return `INSERT INTO floor_keys (ip) VALUES (?)` + strings.Repeat(",(?)", rows-1)
	}
	start, cpu0 := time.Now(), cpuTime(t)
	args := make([]any, 0, chunk)
	for i := range n {
		var k [16]byte
		k[12], k[13], k[14], k[15] = byte(11+i>>24), byte(i>>16), byte(i>>8), byte(i)
		if args = append(args, k[:]); len(args) == chunk || i == n-1 {
			if _, err := tx.ExecContext(ctx, insert(len(args)), args...); err != nil {
				t.Fatal(err)
			}
			args = args[:0]
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM floor_keys`).Scan(&got); err != nil || got != n {
		t.Fatalf("stored %d keys (%v), want %d", got, err, n)
	}
	t.Logf("bare INSERT of %d keys in one transaction: %s (CPU %s)", n, time.Since(start).Round(time.Millisecond),
		(cpuTime(t) - cpu0).Round(time.Millisecond))
}

// listEntries is FOREWARN_LIST_ENTRIES as a number ("1M" is 1,000,000);
// unset, the test is skipped, saying what setting it would measure.
func listEntries(t *testing.T, why string) int {
	t.Helper()
	v := os.Getenv("FOREWARN_LIST_ENTRIES")
	if v == "" {
		t.Skip("set FOREWARN_LIST_ENTRIES=1M (or a number) " + why)
	}
	if v == "1M" {
		return 1_000_000
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
