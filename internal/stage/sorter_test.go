package stage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

func TestSortsAcrossSpills(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		buffer int
	}{
		{"empty", 0, 1 << 10},
		{"in memory", 1000, 1 << 20},
		{"many spills", 20000, 16 << 10},
		{"tiny buffer", 300, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(dir, 8, tc.buffer)
			defer s.Close()
			r := rand.New(rand.NewPCG(1, 2))
			want := map[uint64]string{}
			for i := 0; i < tc.n; i++ {
				k := r.Uint64()
				v := fmt.Sprintf("value-%d-%s", k, bytes.Repeat([]byte("x"), r.IntN(50)))
				want[k] = v
				if err := s.Add(binary.BigEndian.AppendUint64(nil, k), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "many spills" && s.Spills() < 5 {
				t.Fatalf("only %d spills; the test does not exercise the merge", s.Spills())
			}
			it, err := s.Iterator()
			if err != nil {
				t.Fatal(err)
			}
			// Once spilled, the merge reads only from the spill
			// files: the buffer is not held beside them.
			if s.Spills() > 0 && cap(s.arena) != 0 {
				t.Fatalf("after %d spills the iterator still holds a %d-byte buffer", s.Spills(), cap(s.arena))
			}
			var prev []byte
			got := 0
			for it.Next() {
				if prev != nil && bytes.Compare(prev, it.Key()) > 0 {
					t.Fatalf("out of order: %x after %x", it.Key(), prev)
				}
				prev = append(prev[:0], it.Key()...)
				k := binary.BigEndian.Uint64(it.Key())
				if want[k] != string(it.Value()) {
					t.Fatalf("key %d: value %q, want %q", k, it.Value(), want[k])
				}
				got++
			}
			if it.Err() != nil || got != tc.n {
				t.Fatalf("got %d records, err %v; want %d", got, it.Err(), tc.n)
			}
			// Spill files are unlinked as soon as they are created.
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("spill files left in %s: %v", dir, ents)
			}
		})
	}
}

func TestRejectsWrongKeyLength(t *testing.T) {
	s := New(t.TempDir(), 4, 0)
	if err := s.Add([]byte("abc"), nil); err == nil {
		t.Fatal("accepted a 3-byte key for a 4-byte sorter")
	}
}

func BenchmarkSorter(b *testing.B) {
	val := bytes.Repeat([]byte("v"), 100)
	for b.Loop() {
		s := New(b.TempDir(), 41, 8<<20)
		r := rand.New(rand.NewPCG(1, 2))
		key := make([]byte, 41)
		for i := 0; i < 200000; i++ {
			binary.BigEndian.PutUint64(key, r.Uint64())
			_ = s.Add(key, val)
		}
		it, _ := s.Iterator()
		for it.Next() {
		}
		s.Close()
	}
}
