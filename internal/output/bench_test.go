package output_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/export"
	"forewarn/internal/output"
	"forewarn/internal/store"
)

// benchSpecs are the profiles the benchmarks render: 10,000 entries, as
// issue 19's number asks.
var benchSpecs = []struct {
	name string
	spec output.Spec
}{
	{"edl-importance", output.Spec{Format: export.EDL, Max: 10000}},
	{"edl-confidence", output.Spec{Format: export.EDL, Max: 10000, Rank: store.RankConfidence}},
	{"crowdsec-importance", output.Spec{Format: export.CrowdSec, Max: 10000}},
	{"suricata-iprep-importance", output.Spec{Format: export.SuricataIPRep, Max: 10000}},
	{"zeek-intel-importance", output.Spec{Format: export.ZeekIntel, Max: 10000}},
	{"csv-importance", output.Spec{Format: export.CSV, Max: 10000}},
	{"jsonl-importance", output.Spec{Format: export.JSONL, Max: 10000}},
	{"stix-importance", output.Spec{Format: export.STIX, Max: 10000}},
	{"ecs-importance", output.Spec{Format: export.ECS, Max: 10000}},
	{"misp-feed-importance", output.Spec{Format: export.MISPFeed, Max: 10000}},
}

// benchFile is the file of spec s a fetch reads: for a misp-feed, its
// first event (the one a Seclytics store has), named by its manifest.
func benchFile(b *testing.B, st *store.Store, name string, s output.Spec) string {
	if !s.Format.Directory() {
		return ""
	}
	var manifest bytes.Buffer
	if _, err := output.Render(context.Background(), &manifest, st, name, s, export.MISPManifest, now); err != nil {
		b.Fatal(err)
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(manifest.Bytes(), &events); err != nil || len(events) == 0 {
		b.Fatalf("manifest: %v, %d events", err, len(events))
	}
	return slices.Sorted(maps.Keys(events))[0] + ".json"
}

// benchStore opens the store FOREWARN_OUTPUT_DB names.
func benchStore(b *testing.B) *store.Store {
	path := os.Getenv("FOREWARN_OUTPUT_DB")
	if path == "" {
		b.Skip("set FOREWARN_OUTPUT_DB to a store to render from")
	}
	st, err := store.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// cpuTime is the CPU time this process used so far, all threads: on a
// busy machine a benchmark's wall time says more about the load than about
// the code, its CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs b's loop and reports the CPU milliseconds per operation
// beside the wall time.
func loop(b *testing.B, op func()) {
	start := cpuTime()
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkFetchBudget fetches each of benchSpecs from a real handler on
// loopback, end to end (key check, render, ETag, record), as a device
// does: the figure issue 19 sets at 200 ms for 10,000 entries from 5M.
func BenchmarkFetchBudget(b *testing.B) {
	st := benchStore(b)
	srv := httptest.NewServer(func() http.Handler {
		mux := http.NewServeMux()
		output.NewHandler(st, nil, nil).Register(mux)
		return mux
	}())
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range benchSpecs {
		b.Run(tc.name, func(b *testing.B) {
			key, hash, prefix, err := apikey.GenerateOutput()
			if err != nil {
				b.Fatal(err)
			}
			name := "bench-" + tc.name
			_ = st.DeleteOutput(ctx, name)
			if _, err := st.CreateOutput(ctx, store.Output{Name: name, Spec: tc.spec.JSON(), KeyPrefix: prefix, CreatedBy: "bench"}, hash); err != nil {
				b.Fatal(err)
			}
			defer st.DeleteOutput(ctx, name)
			path := "/outputs/" + name
			if f := benchFile(b, st, name, tc.spec); f != "" {
				path += "/" + f
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			client := &http.Client{Timeout: time.Minute}
			loop(b, func() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Fatalf("fetch %s: %s, %d bytes", name, resp.Status, n)
				}
			})
		})
	}
}

// BenchmarkRenderBudget renders a 10,000-entry profile from the store
// FOREWARN_OUTPUT_DB names (a file or a postgres:// DSN; scripts/bench-outputs
// builds a 5M one), the render alone, as a fetch of /outputs/NAME does:
//
//	FOREWARN_OUTPUT_DB=/tmp/5m.db go test ./internal/output -run '^$' -bench RenderBudget -count 5
//
// FOREWARN_OUTPUT_MAX=N renders N entries instead (1000000: issue 19's
// 1M-entry profile); a store with fewer Active indicators than N renders
// them all.
func BenchmarkRenderBudget(b *testing.B) {
	st := benchStore(b)
	budget := 0
	if v := os.Getenv("FOREWARN_OUTPUT_MAX"); v != "" {
		var err error
		if budget, err = strconv.Atoi(v); err != nil || budget <= 0 {
			b.Fatalf("FOREWARN_OUTPUT_MAX=%q: give a number of entries", v)
		}
	}
	for _, tc := range benchSpecs {
		b.Run(tc.name, func(b *testing.B) {
			spec := tc.spec
			if budget > 0 {
				spec.Max = budget
			}
			file := benchFile(b, st, "p", spec)
			loop(b, func() {
				res, err := output.Render(context.Background(), io.Discard, st, "p", spec, file, now)
				if err != nil || (budget == 0 && res.Entries != int64(spec.Max)) || res.Entries == 0 {
					b.Fatalf("%d entries, %v; want %d", res.Entries, err, spec.Max)
				}
			})
		})
	}
}
