package store

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// EachAddress (TAXII's object lookup, a scan of the whole table) reads from
// the exports' pool: with that pool taken it waits within its context,
// while the pool the API and UI read from stays free; and it ends when its
// context does (issue 13 D14).
func TestEachAddressReadsFromExportPool(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	rows := make([]*merge.Stored, 0, 3000)
	for i := range 3000 {
		rows = append(rows, stored(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), indicator.StatusActive))
	}
	commitRows(t, s, rows)
	s.SetExportConns(1)

	// An export holds the export pool's only connection.
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		done <- s.EachIndicatorNetblock(ctx, func(*indicator.Indicator, netip.Prefix) error {
			if first {
				first = false
				close(entered)
				<-release
			}
			return nil
		})
	}()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the export ended before holding its connection: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the export did not start within 30 s")
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	n := 0
	err := s.EachAddress(short, "", func(netip.Addr) bool { n++; return true })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || n != 0 {
		t.Errorf("EachAddress while the export pool is taken: %v after %d addresses, want it to wait for that pool until its deadline", err, n)
	}
	if _, err := s.Lookup(ctx, rows[0].Addr); err != nil {
		t.Errorf("a lookup on the API's pool while the export pool is taken: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A scan whose context ends stops within addressCheck rows.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n = 0
	err = s.EachAddress(cctx, "", func(netip.Addr) bool {
		n++
		cancel()
		return true
	})
	if !errors.Is(err, context.Canceled) || n > addressCheck {
		t.Errorf("EachAddress canceled at its first address: %v after %d addresses, want context.Canceled within %d", err, n, addressCheck)
	}
}
