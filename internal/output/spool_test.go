package output

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// TestSpoolSpillsToATemporaryFile: an answer larger than spoolMemory is
// served whole from a temporary file, byte for byte and with the ETag of
// one held in memory, and the file is gone once the answer is sent. One
// held in many chunks is the same, a range of it across chunks too.
func TestSpoolSpillsToATemporaryFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()
	st := testutil.Store(t)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for i := range 200 {
		r := &merge.Stored{Record: merge.Record{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})}, Exists: true,
			Status: indicator.StatusActive, CreatedAt: 1, UpdatedAt: 2}
		r.Has, r.Importance = r.Has.With(merge.Importance), float64(i)
		rows = append(rows, r)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	key, hash, prefix, err := apikey.GenerateOutput()
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Format: export.CrowdSec, Max: 150}
	if _, err := st.CreateOutput(ctx, store.Output{Name: "cs", Spec: spec.JSON(), KeyPrefix: prefix, CreatedBy: "test"}, hash); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(st, nil, nil)
	h.now = func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	fetchRange := func(rng string) (string, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/outputs/cs", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent) {
			t.Fatalf("fetch: %s, %v", resp.Status, err)
		}
		return string(b), resp.Header.Get("ETag")
	}
	fetch := func() (string, string) { return fetchRange("") }
	inMemory, etag := fetch()
	oldChunk := spoolChunk
	spoolChunk = 1000 // about 20 chunks
	chunked, chunkedETag := fetch()
	part, _ := fetchRange("bytes=900-2100")
	spoolChunk = oldChunk
	if chunked != inMemory || chunkedETag != etag || len(inMemory) < 2101 || part != inMemory[900:2101] {
		t.Errorf("held in chunks: %d bytes, ETag %s, range 900-2100 %q; in one: %d bytes, ETag %s", len(chunked), chunkedETag, part, len(inMemory), etag)
	}
	old := spoolMemory
	spoolMemory = 1000 // the answer is about 20 kB
	defer func() { spoolMemory = old }()
	spilled, spilledETag := fetch()
	if len(inMemory) < 10*spoolMemory || spilled != inMemory || spilledETag != etag {
		t.Errorf("spilled to a file: %d bytes, ETag %s; held in memory: %d bytes, ETag %s", len(spilled), spilledETag, len(inMemory), etag)
	}
	srv.Close() // waits for the handlers to return
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("temporary files left after the answers: %v %v", left, err)
	}
}
