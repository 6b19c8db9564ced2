package feeddef

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSplitDirectMatchesBytewise checks the word-at-a-time splits of a
// line without quotes against a plain scan, for lines of every length up
// to three 64-byte blocks with delimiters, quotes and the bytes a borrow
// could mistake for a delimiter in every position, each line followed in
// its buffer by bytes that are delimiters and quotes (a line is a slice of
// the read buffer: what lies after it must not count).
func TestSplitDirectMatchesBytewise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, delim := range []byte{',', '\t', ' ', ';', '|'} {
		alphabet := []byte{delim, delim + 1, delim - 1, '"', 'a', '-', 0, 0xff, ' ', '#', ','}
		for _, quote := range []bool{true, false} {
			s := newCSVSplitter(delim, quote, DefaultMaxLine)
			for range 20_000 {
				n := rng.IntN(200)
				buf := make([]byte, n+rng.IntN(80))
				for i := range buf {
					buf[i] = alphabet[rng.IntN(len(alphabet))]
				}
				line := buf[:n]
				got, ok := s.splitDirect(line)
				wantOK := !quote || bytes.IndexByte(line, '"') < 0
				if ok != wantOK {
					t.Fatalf("delim %q quote %v line %q: ok %v, want %v", delim, quote, line, ok, wantOK)
				}
				if !ok {
					continue
				}
				want := bytes.Split(line, []byte{delim})
				if !slices.EqualFunc(got, want, bytes.Equal) {
					t.Fatalf("delim %q line %q: fields %q, want %q", delim, line, got, want)
				}
				s.direct = got
			}
		}
	}
}
