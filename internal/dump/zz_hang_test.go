package dump

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestZZHang(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	alphabet := []byte("ab,\"\r\n ")
	for it := 0; it < 300000; it++ {
		n := rng.IntN(40)
		data := make([]byte, n)
		for i := range data {
			data[i] = alphabet[rng.IntN(len(alphabet))]
		}
		chunk := uint8(rng.IntN(256))
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				fmt.Fprintf(os.Stderr, "HANG %q chunk %d\n", data, chunk)
				os.Exit(3)
			}
		}()
		window := 16
		if chunk&1 == 0 {
			window = 4096
		}
		want := stdlibSteps(t, data)
		got := splitterSteps(t, data, int(chunk%32)+1, window)
		close(done)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("diff on %q chunk %d:\n%v\n%v", data, chunk, want, got)
		}
	}
}
