package merge

import (
	"net/netip"
	"testing"

	"forewarn/internal/config"
	"forewarn/internal/prediction"
)

// BenchmarkMapDecodeFoldApply is the per-row merge path of a run: encode a
// kept row for staging, decode it, fold it and apply it to a stored state.
func BenchmarkMapDecodeFoldApply(b *testing.B) {
	row := &prediction.Row{
		Addr: netip.MustParseAddr("102.140.192.7"), PredictedAt: 1.5e9, DetectedAt: 1.6e9, LastSeenAt: 1.7e9,
		PredictedNetblock: netip.MustParsePrefix("102.140.192.0/24"), PredictedCategory: []byte("spam"),
		Cluster: []byte("3caa3b5744f91251e7ec2b45ef2d6d892786935b"), Importance: 85, HasImportance: true,
		DetectedBy: [][]byte{[]byte("uceptect_level2")}, DetectedCategories: [][]byte{[]byte("malicious"), []byte("botnet")},
	}
	m := NewMapper(NewSelection(config.ContextNames, true))
	var in Interner
	var rec, acc Record
	var c Counts
	b.ReportAllocs()
	for b.Loop() {
		k, v := m.Map(row, 1)
		if err := Decode(k, v, &rec, &in); err != nil {
			b.Fatal(err)
		}
		acc.Reset()
		Fold(&acc, &rec)
		st := Stored{}
		Apply(&st, &acc, 1, 1, &c)
	}
}

// BenchmarkHash is the per-indicator hash a run compares with the stored
// one to skip unchanged indicators.
func BenchmarkHash(b *testing.B) {
	row := &prediction.Row{
		Addr: netip.MustParseAddr("102.140.192.7"), PredictedAt: 1.5e9, DetectedAt: 1.6e9, LastSeenAt: 1.7e9,
		PredictedNetblock: netip.MustParsePrefix("102.140.192.0/24"), PredictedCategory: []byte("spam"),
		Cluster: []byte("3caa3b5744f91251e7ec2b45ef2d6d892786935b"), Importance: 85, HasImportance: true,
		DetectedBy: [][]byte{[]byte("uceptect_level2")}, DetectedCategories: [][]byte{[]byte("malicious"), []byte("botnet")},
	}
	m := NewMapper(NewSelection(config.ContextNames, true))
	var rec, acc Record
	k, v := m.Map(row, 1)
	if err := Decode(k, v, &rec, nil); err != nil {
		b.Fatal(err)
	}
	Fold(&acc, &rec)
	Finish(&acc)
	b.ReportAllocs()
	for b.Loop() {
		if acc.Hash() == 0 {
			b.Fatal("zero hash")
		}
	}
}
