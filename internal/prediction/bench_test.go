package prediction

import (
	"testing"

	"forewarn/internal/dump"
)

func BenchmarkParse(b *testing.B) {
	rec := &dump.Record{Line: 2}
	for c, v := range map[dump.Column]string{
		dump.IP: "102.140.192.7", dump.PredictedAt: "2018-06-21T02:03:48", dump.PredictedNetblock: "102.140.192.0/24",
		dump.PredictedCategory: "spam", dump.Cluster: "3caa3b5744f91251e7ec2b45ef2d6d892786935b", dump.DetectedBy: "uceptect_level2;abuseipdb",
		dump.DetectedCategories: "malicious,botnet", dump.DetectedAt: "2021-02-09T00:00:00", dump.LastSeenAt: "2022-11-27T00:00:00", dump.Importance: "85",
	} {
		rec.Fields[c] = []byte(v)
	}
	var p Parser
	var row Row
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(rec, &row); err != nil {
			b.Fatal(err)
		}
	}
}
