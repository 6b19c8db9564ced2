package fakeseclytics

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"forewarn/internal/dumpgen"
)

// The paths of the two datasets, as the real API serves them.
const (
	PathA = "/bulk/seen-predictions-dump-a.json.gz"
	PathB = "/bulk/seen-predictions-dump-b.json.gz"
)

// Options configures a Server. Rows, Seed, Format, InvalidRate, Start and
// End are passed to dumpgen; the zero value serves an empty dump to any
// non-empty token.
type Options struct {
	Rows int
	// ListEntries is how many entries Run's built-in list feeds list
	// (default 1000).
	ListEntries int
	Seed        int64
	Format      dumpgen.Format
	InvalidRate float64
	// Epoch re-dates about 10% of rows (see dumpgen.Options.Epoch).
	Epoch int
	// Start and End bound the dates in the generated dumps (dumpgen's
	// defaults when zero). End is also the Last-Modified of the dumps.
	Start, End time.Time

	// Token, if non-empty, is the only access_token accepted; otherwise
	// any non-empty token is. A request without a token is always
	// rejected.
	Token string
	// NoETag turns off the ETag header (a quoted hex SHA-256 of the body).
	NoETag bool
	// NoLastModified turns off the Last-Modified header.
	NoLastModified bool
	// Dir is where generated dumps are kept. When set, dumps are cached
	// there across servers, keyed by the generator options, and left in
	// place by Close; when empty, a temporary directory is used and Close
	// removes it.
	Dir string
	// Fault is in effect from the start, as if set with SetFault.
	Fault Fault

	// FileA and FileB, when either is set, are existing gzip files served
	// as datasets A and B instead of generated dumps. A dataset without a
	// file then answers 403, as for a subscription that lacks it.
	FileA, FileB string
}

// Fault is a failure the Server injects into the dump requests that follow
// SetFault. The zero value is no fault. Status takes precedence over HTML;
// then Body (or the dump) is sent, mangled by Mangle, and delivered as
// CutAfter, Stall or Rate say (in that order of precedence). ParseFault
// reads the same faults from the fake-seclytics --fault flag.
type Fault struct {
	// Status, if non-zero, answers with this status and a Seclytics-style
	// JSON error body.
	Status int
	// Times is how many requests get the fault before it clears itself;
	// 0 means every request until the next SetFault.
	Times int
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// CutAfter, if positive, sends the 200 headers with the full
	// Content-Length and this many body bytes (at most all but one), then
	// drops the connection.
	CutAfter int64
	// HTML answers 200 with an HTML error page instead of the dump.
	HTML bool
	// Body, if non-nil, is served with status 200 in place of the dump
	// (an empty, non-nil Body is an empty 200 answer). See BombBody,
	// LongLineBody, NoIPColumnBody and HeaderOnlyBody.
	Body []byte
	// Mangle damages the served bytes: MangleTruncate, MangleCRC.
	Mangle Mangle
	// Stall sends the 200 headers and the first StallAfter body bytes,
	// then nothing, keeping the connection open until the client gives up
	// (or the server closes).
	Stall      bool
	StallAfter int64
	// Rate, if positive, sends the body at about this many bytes per
	// second, in ten slices a second.
	Rate int64
}

// IsZero reports whether f is no fault.
func (f Fault) IsZero() bool {
	return f.Status == 0 && f.Times == 0 && f.RetryAfter == "" && f.CutAfter == 0 && !f.HTML &&
		f.Body == nil && f.Mangle == "" && !f.Stall && f.StallAfter == 0 && f.Rate == 0
}

// dataset is what one of the two dump paths serves.
type dataset struct {
	file    string // served from disk when body is nil
	body    []byte
	etag    string
	size    int64
	modTime time.Time
	missing bool // not part of the "subscription": 403
}

// Server is a fake Seclytics API. It is safe for concurrent use.
type Server struct {
	token   string
	tempDir string // removed by Close
	stats   dumpgen.Stats

	mu        sync.Mutex
	sets      [2]dataset // a, b
	fault     Fault
	faultLeft int
	etag      bool
	lastMod   bool
	requests  int
	closed    bool
	done      chan struct{} // closed by Close: ends stalled responses
}

// New prepares the dumps (generating them once, to files, unless
// Options.FileA/FileB name existing ones) and returns a Server ready to
// serve them.
func New(ctx context.Context, opts Options) (*Server, error) {
	end := opts.End
	if end.IsZero() {
		end = dumpgen.DefaultEnd
	}
	s := &Server{token: opts.Token, etag: !opts.NoETag, lastMod: !opts.NoLastModified, done: make(chan struct{})}
	s.fault, s.faultLeft = opts.Fault, opts.Fault.Times
	modTime := end.UTC().Truncate(time.Second)

	files := [2]string{opts.FileA, opts.FileB}
	if opts.FileA == "" && opts.FileB == "" {
		dir := opts.Dir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "fakeseclytics-")
			if err != nil {
				return nil, fmt.Errorf("create a directory for the fake dumps: %w", err)
			}
			s.tempDir, dir = tmp, tmp
		}
		var err error
		files, s.stats, err = prepareDumps(ctx, dir, opts)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	for i, file := range files {
		d := &s.sets[i]
		d.modTime = modTime
		if file == "" {
			d.missing = true
			continue
		}
		etag, size, err := hashFile(file)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("read dump %s: %w", file, err)
		}
		d.file, d.etag, d.size = file, etag, size
	}
	return s, nil
}

// cacheMeta is stored next to cached dumps so a later server can reuse them
// without regenerating.
type cacheMeta struct {
	Stats dumpgen.Stats
}

// prepareDumps returns the files of datasets A and B for opts in dir,
// generating them unless an earlier run already did.
func prepareDumps(ctx context.Context, dir string, opts Options) ([2]string, dumpgen.Stats, error) {
	gen := dumpgen.Options{
		Rows: opts.Rows, Seed: opts.Seed, Format: opts.Format,
		InvalidRate: opts.InvalidRate, Start: opts.Start, End: opts.End, Epoch: opts.Epoch,
	}
	if err := gen.Validate(); err != nil {
		return [2]string{}, dumpgen.Stats{}, fmt.Errorf("fake Seclytics options: %w", err)
	}
	// Every option that changes the bytes is part of the cache key.
	key := sha256.Sum256(fmt.Appendf(nil, "v1|%d|%d|%q|%v|%d|%d|%d",
		gen.Rows, gen.Seed, gen.Format, gen.InvalidRate, gen.Start.UnixNano(), gen.End.UnixNano(), gen.Epoch))
	base := filepath.Join(dir, "seen-predictions-"+hex.EncodeToString(key[:8]))
	files := [2]string{base + "-dump-a.json.gz", base + "-dump-b.json.gz"}
	metaFile := base + ".json"

	if meta, err := os.ReadFile(metaFile); err == nil {
		var m cacheMeta
		_, errA := os.Stat(files[0])
		_, errB := os.Stat(files[1])
		if json.Unmarshal(meta, &m) == nil && errA == nil && errB == nil {
			return files, m.Stats, nil
		}
	}

	stats, err := generateFiles(ctx, dir, files, gen)
	if err != nil {
		return [2]string{}, dumpgen.Stats{}, err
	}
	meta, err := json.Marshal(cacheMeta{Stats: stats})
	if err != nil {
		return [2]string{}, dumpgen.Stats{}, fmt.Errorf("encode fake dump metadata: %w", err)
	}
	// The metadata is written last: its presence says the dumps are whole.
	if err := writeFileAtomic(dir, metaFile, meta); err != nil {
		return [2]string{}, dumpgen.Stats{}, err
	}
	return files, stats, nil
}

// generateFiles writes both datasets to temporary files in dir and renames
// them into place, so that a reader never sees half a dump.
func generateFiles(ctx context.Context, dir string, files [2]string, gen dumpgen.Options) (dumpgen.Stats, error) {
	var tmps [2]*os.File
	defer func() {
		for _, f := range tmps {
			if f != nil {
				_ = f.Close()
				_ = os.Remove(f.Name())
			}
		}
	}()
	for i := range tmps {
		f, err := os.CreateTemp(dir, ".dump-*.tmp")
		if err != nil {
			return dumpgen.Stats{}, fmt.Errorf("create fake dump file: %w", err)
		}
		tmps[i] = f
	}
	stats, err := dumpgen.Generate(ctx, tmps[0], tmps[1], gen)
	if err != nil {
		return dumpgen.Stats{}, fmt.Errorf("generate fake dump: %w", err)
	}
	for i, f := range tmps {
		if err := f.Close(); err != nil {
			return dumpgen.Stats{}, fmt.Errorf("write fake dump: %w", err)
		}
		if err := os.Rename(f.Name(), files[i]); err != nil {
			return dumpgen.Stats{}, fmt.Errorf("store fake dump: %w", err)
		}
		tmps[i] = nil
	}
	return stats, nil
}

func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".meta-*.tmp")
	if err != nil {
		return fmt.Errorf("create fake dump metadata: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write fake dump metadata: %w", err)
	}
	return nil
}

// hashFile returns the strong ETag and the size of a file.
func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`, n, nil
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// Close removes the dumps the Server generated in its temporary directory.
// Dumps cached in Options.Dir are kept. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	if s.tempDir != "" {
		if err := os.RemoveAll(s.tempDir); err != nil {
			return fmt.Errorf("remove fake dumps: %w", err)
		}
	}
	return nil
}

// Stats returns what the generator wrote for the served dumps; zero when
// they come from Options.FileA/FileB.
func (s *Server) Stats() dumpgen.Stats {
	return s.stats
}

func datasetIndex(name string) int {
	switch name {
	case "a", "A":
		return 0
	case "b", "B":
		return 1
	}
	panic(fmt.Sprintf("fakeseclytics: unknown dataset %q, want \"a\" or \"b\"", name))
}

// SetBody makes dataset "a" or "b" serve body, sent as is, from the next
// request on. The ETag follows the new body, and Last-Modified moves an hour
// forward so that If-Modified-Since sees the change too.
func (s *Server) SetBody(name string, body []byte) {
	i := datasetIndex(name)
	body = bytes.Clone(body)
	if body == nil {
		body = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.sets[i]
	*d = dataset{body: body, etag: etagOf(body), size: int64(len(body)), modTime: d.modTime.Add(time.Hour)}
}

// SetFault applies f to the dump requests that follow; the zero Fault
// clears any fault.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.faultLeft = f, f.Times
}

// SetETag turns the ETag header on or off.
func (s *Server) SetETag(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag = on
}

// SetLastModified turns the Last-Modified header on or off.
func (s *Server) SetLastModified(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastMod = on
}

// Requests returns the number of requests to the dump paths so far, whatever
// their answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// takeFault returns the fault for the current request, counting it down.
func (s *Server) takeFault() Fault {
	f := s.fault
	if f.IsZero() {
		return f
	}
	if f.Times > 0 {
		s.faultLeft--
		if s.faultLeft <= 0 {
			s.fault = Fault{}
		}
	}
	return f
}

// ServeHTTP answers the two dump paths: fault (if one is set), then the
// access-token check, then the dump, with conditional requests honoured.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var i int
	switch r.URL.Path {
	case PathA:
		i = 0
	case PathB:
		i = 1
	default:
		writeError(w, http.StatusNotFound)
		return
	}
	s.mu.Lock()
	s.requests++
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.mu.Unlock()
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed)
		return
	}
	fault := s.takeFault()
	d := s.sets[i]
	sendETag, sendLastMod := s.etag, s.lastMod
	s.mu.Unlock()

	h := w.Header()
	if fault.RetryAfter != "" {
		h.Set("Retry-After", fault.RetryAfter)
	}
	switch {
	case fault.Status != 0:
		writeError(w, fault.Status)
		return
	case fault.HTML:
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(htmlErrorPage)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, htmlErrorPage)
		return
	}

	if !s.tokenOK(r.URL.Query().Get("access_token")) {
		writeError(w, http.StatusUnauthorized)
		return
	}
	if d.missing {
		writeError(w, http.StatusForbidden)
		return
	}

	if fault.Body != nil {
		d = dataset{body: fault.Body, etag: etagOf(fault.Body), size: int64(len(fault.Body)), modTime: d.modTime}
	}
	opened, err := d.open()
	if err != nil {
		writeError(w, http.StatusInternalServerError)
		return
	}
	defer opened.Close()
	content, size := fault.Mangle.apply(opened, d.size)
	h.Set("Content-Type", "application/gzip")
	if sendETag {
		h.Set("ETag", d.etag)
	}
	var modTime time.Time
	if sendLastMod {
		modTime = d.modTime
	}
	if fault.CutAfter > 0 {
		if sendLastMod {
			h.Set("Last-Modified", modTime.UTC().Format(http.TimeFormat))
		}
		cutConnection(w, content, size, fault.CutAfter)
		return
	}
	if fault.Stall || fault.Rate > 0 {
		if sendLastMod {
			h.Set("Last-Modified", modTime.UTC().Format(http.TimeFormat))
		}
		s.slowBody(w, r, content, size, fault)
		return
	}
	http.ServeContent(w, r, "", modTime, content)
}

func (s *Server) tokenOK(got string) bool {
	if got == "" {
		return false
	}
	if s.token == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

type readSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (d *dataset) open() (readSeekCloser, error) {
	if d.body != nil {
		return nopCloser{bytes.NewReader(d.body)}, nil
	}
	return os.Open(d.file)
}

// cutConnection promises the whole body, sends only its first cutAfter
// bytes, and drops the connection, as a proxy or load balancer failing
// mid-transfer does.
func cutConnection(w http.ResponseWriter, content io.Reader, size, cutAfter int64) {
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.CopyN(w, content, max(min(cutAfter, size-1), 0))
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		// HTTP/2 cannot hijack: aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// errorMessages are the messages of the Seclytics JSON error bodies.
var errorMessages = map[int]string{
	http.StatusBadRequest:       "Bad request",
	http.StatusUnauthorized:     "Invalid access token",
	http.StatusForbidden:        "Your subscription does not include this dataset",
	http.StatusNotFound:         "Not found",
	http.StatusMethodNotAllowed: "Method not allowed",
	http.StatusTooManyRequests:  "Rate limit exceeded",
}

func errorMessage(status int) string {
	if msg, ok := errorMessages[status]; ok {
		return msg
	}
	if status >= 500 {
		return "Internal server error"
	}
	if text := http.StatusText(status); text != "" {
		return text
	}
	return "Error"
}

type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with status and a body like the real API's:
// {"error":{"code":401,"message":"Invalid access token"}}.
func writeError(w http.ResponseWriter, status int) {
	var e errorBody
	e.Error.Code, e.Error.Message = status, errorMessage(status)
	body, err := json.Marshal(e)
	if err != nil {
		panic(err) // cannot happen: an int and a string
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// htmlErrorPage is what a maintenance page or a misbehaving proxy sends
// with a 200 status in place of the dump.
const htmlErrorPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Seclytics | Service Unavailable</title></head>
<body>
<h1>We&rsquo;ll be back soon</h1>
<p>The Seclytics API is undergoing scheduled maintenance. Please try again later.</p>
</body>
</html>
`

// ErrNotLoopback is returned by Run for a listen address that is not a
// loopback address.
var ErrNotLoopback = errors.New("the fake Seclytics server only listens on loopback")
