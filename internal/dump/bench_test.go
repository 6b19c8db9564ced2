package dump

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const benchRows = 50_000

// benchDump generates a dump of benchRows rows shaped like a real one: about
// a third of the rows quote a multi-valued column, as Seclytics does when a
// value holds a comma.
func benchDump(format Format) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	categories := []string{"spam", "malware", "phishing", "botnet", "scanner", "malicious"}
	detectors := []string{"uceptect_level2", "spamhaus_drop", "abuse_ch", "blocklist_de", "feodo"}
	start := time.Date(2018, 6, 21, 2, 3, 48, 0, time.UTC)
	pick := func(list []string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = list[rng.IntN(len(list))]
		}
		return out
	}

	var b bytes.Buffer
	if format == FormatCSV {
		b.WriteString(strings.Join(ColumnNames[:], ",") + "\n")
	}
	for range benchRows {
		a, c := rng.IntN(223)+1, rng.IntN(256)
		ip := fmt.Sprintf("%d.%d.%d.%d", a, rng.IntN(256), c, rng.IntN(256))
		netblock := fmt.Sprintf("%d.%d.%d.0/24", a, rng.IntN(256), c)
		predicted := start.Add(time.Duration(rng.IntN(1e8)) * time.Second).Format("2006-01-02T15:04:05")
		detectedAt := start.Add(time.Duration(rng.IntN(1e8)) * time.Second).Format("2006-01-02T00:00:00")
		lastSeen := start.Add(time.Duration(rng.IntN(1e8)) * time.Second).Format("2006-01-02T00:00:00")
		cluster := fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
		by := pick(detectors, 1+rng.IntN(2))
		ids := pick([]string{"", "x", "asn:64500", "url:/a"}, rng.IntN(3))
		cats := pick(categories, 1+rng.IntN(2))
		importance := fmt.Sprintf("%d", rng.IntN(100))
		if rng.IntN(4) == 0 {
			importance = fmt.Sprintf("%.1f", rng.Float64()*100)
		}
		category := categories[rng.IntN(len(categories))]

		if format == FormatCSV {
			quote := func(vals []string, sep string) string {
				s := strings.Join(vals, sep)
				if strings.Contains(s, ",") {
					return `"` + s + `"`
				}
				return s
			}
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", ip, predicted, netblock, category, cluster,
				quote(by, ";"), quote(ids, ","), quote(cats, ","), detectedAt, lastSeen, importance)
			continue
		}
		list := func(vals []string) string {
			if len(vals) == 0 {
				return "[]"
			}
			return `["` + strings.Join(vals, `","`) + `"]`
		}
		fmt.Fprintf(&b, `{"ip":"%s","predicted_at":"%s","predicted_netblock":"%s","predicted_category":"%s",`+
			`"cluster":"%s","detected_by":%s,"detected_identifiers":%s,"detected_categories":%s,`+
			`"detected_at":"%s","last_seen_at":"%s","importance":%s}`+"\n",
			ip, predicted, netblock, category, cluster, list(by), list(ids), list(cats), detectedAt, lastSeen, importance)
	}
	return b.Bytes()
}

func benchReader(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if rows != benchRows {
			b.Fatalf("read %d rows, want %d", rows, benchRows)
		}
	}
}

func BenchmarkCSV(b *testing.B) { benchReader(b, benchDump(FormatCSV)) }

func BenchmarkNDJSON(b *testing.B) { benchReader(b, benchDump(FormatNDJSON)) }

// BenchmarkCSVStdlib reads the BenchmarkCSV input with encoding/csv at its
// fastest (ReuseRecord), the baseline the splitter must beat.
func BenchmarkCSVStdlib(b *testing.B) {
	data := benchDump(FormatCSV)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		rows := -1 // the header
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if rows != benchRows {
			b.Fatalf("read %d rows, want %d", rows, benchRows)
		}
	}
}
