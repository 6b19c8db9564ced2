package readahead

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadsEveryByteThenTheError reads a stream longer than all the
// buffers together, through a source that hands out a byte at a time and
// then fails: every byte arrives in order, and the error only after them.
func TestReadsEveryByteThenTheError(t *testing.T) {
	want := make([]byte, 10_000)
	for i := range want {
		want[i] = byte(i * 7)
	}
	boom := errors.New("boom")
	src := io.MultiReader(iotest.OneByteReader(bytes.NewReader(want)), iotest.ErrReader(boom))
	ra := New(src, 64, 3)
	defer ra.Close()
	got, err := io.ReadAll(ra)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want the %d of the source", len(got), len(want))
	}
}

// TestCloseStopsTheProducer closes a reader whose consumer stopped early,
// with the producer blocked on a full set of buffers from an endless
// source: the producer must return, or every abandoned parse would leave a
// goroutine behind reading its body for ever.
func TestCloseStopsTheProducer(t *testing.T) {
	ra := New(zeros{}, 16, 2)
	var one [1]byte
	if _, err := ra.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	ra.Close()
	ra.Close() // a second Close is harmless
	select {
	case <-ra.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the producer still runs 10 s after Close")
	}
}

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReadAfterStopFails: a Read after Stop returns ErrClosed at once
// (it used to wait for a chunk no producer would send), and Stop returns
// only once the producer has.
func TestReadAfterStopFails(t *testing.T) {
	ra := New(zeros{}, 16, 2)
	var one [1]byte
	if _, err := ra.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	ra.Stop()
	select {
	case <-ra.exited:
	default:
		t.Fatal("Stop returned while the producer still ran")
	}
	var p [64]byte
	for {
		// The chunk being read may still hold bytes; after it, ErrClosed.
		if _, err := ra.Read(p[:]); err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("read after Stop: %v, want ErrClosed", err)
			}
			break
		}
	}
}
