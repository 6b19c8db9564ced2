package fakeseclytics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Fault
	}{
		{"", Fault{}},
		{"401", Fault{Status: 401}},
		{"503x2", Fault{Status: 503, Times: 2}},
		{"429x1, retry-after=1", Fault{Status: 429, Times: 1, RetryAfter: "1"}},
		{"500,times=3", Fault{Status: 500, Times: 3}},
		{"cut=4KiB", Fault{CutAfter: 4096}},
		{"html,x1", Fault{HTML: true, Times: 1}},
		{"stall", Fault{Stall: true}},
		{"stall=4096", Fault{Stall: true, StallAfter: 4096}},
		{"trickle=10KiB", Fault{Rate: 10240}},
		{"truncate", Fault{Mangle: MangleTruncate}},
		{"crc", Fault{Mangle: MangleCRC}},
		{"empty", Fault{Body: []byte{}}},
		{"header-only", Fault{Body: HeaderOnlyBody()}},
		{"no-ip", Fault{Body: NoIPColumnBody()}},
	} {
		got, err := ParseFault(c.spec)
		if err != nil {
			t.Errorf("ParseFault(%q): %v", c.spec, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseFault(%q) (-want +got):\n%s", c.spec, diff)
		}
		if got.IsZero() != (c.spec == "") {
			t.Errorf("ParseFault(%q).IsZero() = %v", c.spec, got.IsZero())
		}
	}
	for _, spec := range []string{"99", "503x0", "503xx", "cut", "cut=0", "stall=x", "trickle", "bomb", "bomb=-1", "long-line=", "html=1", "retry-after", "teapot", "x0"} {
		if _, err := ParseFault(spec); err == nil || !strings.Contains(err.Error(), spec) {
			t.Errorf("ParseFault(%q) = %v, want an error quoting the spec", spec, err)
		}
	}
}

func gunzipAll(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func TestBodyFaults(t *testing.T) {
	s, base := startServer(t, Options{Rows: 2000, Seed: 1})
	url := dumpURL(base, PathA, "tok")
	full := get(t, url)

	t.Run("truncate", func(t *testing.T) {
		s.SetFault(Fault{Mangle: MangleTruncate, Times: 1})
		r := get(t, url)
		if r.status != http.StatusOK || r.err != nil || len(r.body) != len(full.body)*2/3 || !bytes.Equal(r.body, full.body[:len(r.body)]) {
			t.Fatalf("status %d, %d of %d bytes, read error %v; want the first two thirds, whole", r.status, len(r.body), len(full.body), r.err)
		}
		if _, err := gunzipAll(r.body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("gunzip of the truncated dump: %v, want an unexpected EOF", err)
		}
	})
	t.Run("crc", func(t *testing.T) {
		s.SetFault(Fault{Mangle: MangleCRC, Times: 1})
		r := get(t, url)
		if len(r.body) != len(full.body) || bytes.Equal(r.body, full.body) {
			t.Fatalf("%d bytes, want %d differing from the dump", len(r.body), len(full.body))
		}
		if _, err := gunzipAll(r.body); !errors.Is(err, gzip.ErrChecksum) {
			t.Errorf("gunzip: %v, want a checksum error", err)
		}
		if r := get(t, url); !bytes.Equal(r.body, full.body) {
			t.Error("the fault did not clear after one request")
		}
	})
	t.Run("bodies", func(t *testing.T) {
		for name, c := range map[string]struct {
			body  []byte
			check func([]byte) bool
		}{
			"empty":       {[]byte{}, func(b []byte) bool { return len(b) == 0 }},
			"header only": {HeaderOnlyBody(), func(b []byte) bool { return string(b) == csvHeader }},
			"no ip":       {NoIPColumnBody(), func(b []byte) bool { return strings.HasPrefix(string(b), "address,") }},
			"bomb": {BombBody(8 << 20), func(b []byte) bool {
				return len(b) >= 8<<20 && strings.HasPrefix(string(b), csvHeader+csvRow)
			}},
			"long line": {LongLineBody(2 << 20), func(b []byte) bool {
				longest := 0
				sc := bufio.NewScanner(bytes.NewReader(b))
				sc.Buffer(nil, 4<<20)
				for sc.Scan() {
					longest = max(longest, len(sc.Text()))
				}
				return sc.Err() == nil && longest > 2<<20
			}},
		} {
			s.SetFault(Fault{Body: c.body, Times: 1})
			r := get(t, url)
			if r.status != http.StatusOK || !bytes.Equal(r.body, c.body) || r.header.Get("ETag") != quotedSHA256(c.body) {
				t.Errorf("%s: status %d, %d bytes, ETag %s", name, r.status, len(r.body), r.header.Get("ETag"))
				continue
			}
			plain := r.body
			if len(plain) > 0 {
				var err error
				if plain, err = gunzipAll(r.body); err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
			}
			if !c.check(plain) {
				t.Errorf("%s: unexpected content %.80q", name, plain)
			}
		}
		if len(BombBody(64<<20)) > 1<<20 {
			t.Error("a 64 MiB bomb is not small")
		}
	})
}

func TestStallAndTrickle(t *testing.T) {
	s, base := startServer(t, Options{Rows: 300, Seed: 1})
	url := dumpURL(base, PathA, "tok")
	full := get(t, url)

	t.Run("stall", func(t *testing.T) {
		s.SetFault(Fault{Stall: true, StallAfter: 100, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("headers did not arrive: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(full.body)) {
			t.Fatalf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
		got, err := io.ReadAll(resp.Body)
		if !errors.Is(err, context.DeadlineExceeded) || !bytes.Equal(got, full.body[:100]) {
			t.Fatalf("read %d bytes then %v; want the first 100, then nothing until the deadline", len(got), err)
		}
	})

	t.Run("trickle", func(t *testing.T) {
		rate := int64(len(full.body)) * 4 // a quarter of a second
		s.SetFault(Fault{Rate: rate, Times: 1})
		start := time.Now()
		r := get(t, url)
		if took := time.Since(start); r.err != nil || !bytes.Equal(r.body, full.body) || took < 200*time.Millisecond {
			t.Fatalf("got %d bytes (error %v) in %s; want the whole dump, slowly", len(r.body), r.err, took)
		}
	})

	t.Run("close ends a stall", func(t *testing.T) {
		s2, base2 := startServer(t, Options{Rows: 10, Seed: 1, Fault: Fault{Stall: true}})
		resp, err := http.Get(dumpURL(base2, PathA, "tok"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		done := make(chan error, 1)
		go func() { _, err := io.ReadAll(resp.Body); done <- err }()
		s2.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("a stalled body ended cleanly")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end the stalled response within 10s")
		}
	})
}
