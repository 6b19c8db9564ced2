package filter

import (
	"testing"

	"forewarn/internal/prediction"
)

func BenchmarkCheck(b *testing.B) {
	f := New(70, []string{"malicious", "phishing", "botnet", "backscatter"}, true, 0, 2e9)
	rows := []*prediction.Row{
		row(85, true, []string{"spam", "botnet"}, 1.6e9, none, none),
		row(10, true, []string{"spam"}, 1.6e9, none, none),
		row(90, true, []string{"scanner"}, 1.6e9, none, none),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Check(rows[i%len(rows)])
		i++
	}
}
