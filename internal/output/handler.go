package output

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/export"
	"forewarn/internal/store"
)

// HandlerStore is what serving reads and records: *store.Store.
type HandlerStore interface {
	Store
	AuthenticateOutput(ctx context.Context, name, keyHash string) (store.Output, error)
	RecordOutputFetch(ctx context.Context, name string, at time.Time, by string, entries int64, cutoff string) error
}

// Observer is told of every successful fetch (metrics).
type Observer interface {
	Fetched(name string, at time.Time, r Result)
}

// Timeout bounds one fetch, rendering and sending included.
const Timeout = 30 * time.Minute

// MaxRenders is how many profiles render at once; more answer 429.
const MaxRenders = 4

// Handler serves output profiles at /outputs/NAME (and, for a misp-feed
// profile, its files at /outputs/NAME/FILE; for suricata-iprep, its
// categories at /outputs/NAME/categories.txt) to the profile's own key,
// sent as a Bearer token, a basic-auth password or ?key=.
//
// Each answer is rendered into memory (a temporary file beyond 8 MiB)
// while it is hashed: the ETag is the hash of the content, so it moves
// exactly when what the consumer gets does (a run, an expiry passing, an
// allow-list entry), and If-None-Match gets 304. Last-Modified is when
// this process first served that content.
type Handler struct {
	st      HandlerStore
	obs     Observer
	log     *slog.Logger
	now     func() time.Time
	renders chan struct{}

	mu   sync.Mutex
	seen map[string]seen // by name and file: the content's hash and since when
}

type seen struct {
	etag string
	at   time.Time
}

// NewHandler returns a handler over st; obs may be nil.
func NewHandler(st HandlerStore, obs Observer, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{st: st, obs: obs, log: log, now: time.Now, renders: make(chan struct{}, MaxRenders), seen: map[string]seen{}}
}

// Register adds the handler's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /outputs/{name}", h.serve)
	mux.HandleFunc("GET /outputs/{name}/{file}", h.serve)
}

// httpError is an answer in plain text, for devices.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), Timeout)
	defer cancel()
	if err := h.fetch(w, r.WithContext(ctx)); err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			h.log.Error("output fetch failed", "output", r.PathValue("name"), "err", err)
			he = &httpError{http.StatusInternalServerError, "the output could not be rendered: see the server's log"}
		}
		if he.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="forewarn output", charset="UTF-8"`)
		}
		if he.code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "30")
		}
		http.Error(w, he.msg, he.code)
	}
}

// keyOf is the key a request sends: a Bearer token, a basic-auth password
// or ?key=; and who sent it, for the record.
func keyOf(r *http.Request) (key, by string) {
	by, _, _ = net.SplitHostPort(r.RemoteAddr)
	if by == "" {
		by = r.RemoteAddr
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v), by
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if user != "" {
			by += " (user " + user + ")"
		}
		return pass, by
	}
	return r.URL.Query().Get("key"), by
}

func (h *Handler) fetch(w http.ResponseWriter, r *http.Request) error {
	name, file := r.PathValue("name"), r.PathValue("file")
	key, by := keyOf(r)
	if key == "" {
		return &httpError{http.StatusUnauthorized, "send the output's key: Authorization: Bearer KEY, a basic-auth password, or ?key=KEY"}
	}
	o, err := h.st.AuthenticateOutput(r.Context(), name, apikey.Hash(key))
	if errors.Is(err, store.ErrUnauthorized) {
		return &httpError{http.StatusUnauthorized, "this key does not open output " + name}
	}
	if err != nil {
		return err
	}
	spec, err := ParseSpec([]byte(o.Spec))
	if err != nil {
		return err
	}
	switch {
	case spec.Format.Directory() && file == "":
		return &httpError{http.StatusNotFound, "output " + name + " is a MISP feed: fetch " + name + "/manifest.json and the files it names"}
	case spec.Format == export.SuricataIPRep && file == "categories.txt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		return export.WriteSuricataCategories(w)
	case !spec.Format.Directory() && file != "":
		return &httpError{http.StatusNotFound, "output " + name + " has no file " + file}
	}
	select {
	case h.renders <- struct{}{}:
		defer func() { <-h.renders }()
	default:
		return &httpError{http.StatusTooManyRequests, fmt.Sprintf("%d outputs are rendering, the most at once: retry after 30 seconds", MaxRenders)}
	}
	return h.render(w, r, o.Name, spec, file, by)
}

// render spools the profile, hashing it, and serves it with the hash as
// its ETag: from memory up to spoolMemory bytes (a budget of 10,000
// entries is 0.1 to 12 MB), from a temporary file beyond.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, spec Spec, file, by string) error {
	sp := &spool{}
	defer sp.close()
	at := h.now()
	sum := sha256.New()
	res, err := Render(r.Context(), io.MultiWriter(sp, sum), h.st, name, spec, file, at)
	if errors.Is(err, export.ErrNoMISPFile) {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	if err != nil {
		return err
	}
	body, err := sp.reader()
	if err != nil {
		return err
	}
	etag := `"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`
	modified := h.since(name+"/"+file, etag, at)
	if file == export.MISPManifest || file == export.MISPHashes {
		res.Entries = -1 // the feed's entries are its event's
	}
	// Recorded before the answer, so that a client reading the record
	// after its fetch sees it; on SQLite a run holding the writer delays
	// this by at most record's 5 s.
	h.record(name, at, by, res)
	ct := export.ContentType(spec.Format)
	if file == export.MISPHashes {
		ct = "text/csv; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(Timeout))
	http.ServeContent(w, r, "", modified, body)
	return nil
}

// spoolMemory is the most a render holds in memory (each of MaxRenders,
// so 64 MiB at most in all); a larger one spills to a temporary file. It
// holds a budget of 10,000 entries of any format (stix's, the largest, is
// about 12 MB; jsonl's 9.6 MB spilled past the 8 MiB it was, a file
// written and read back on every fetch).
var spoolMemory = 16 << 20

// spoolChunk is the largest of the chunks a spool holds in memory: the
// first is small (a lean budget is a few hundred kB), each next one twice
// what the spool holds, up to this. Growing by chunks copies nothing and
// holds no more than was written (a doubling bytes.Buffer copied what it
// held at each growth and held up to twice of it, so the 8 MiB it had
// were up to 16 MiB).
var spoolChunk = 1 << 20

// spool holds a render in memory up to spoolMemory bytes, then in a
// temporary file.
type spool struct {
	chunks [][]byte // every one full but the last
	size   int64    // what the chunks hold
	file   *os.File
}

func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.size+int64(len(p)) <= int64(spoolMemory) {
		n := len(p)
		for len(p) > 0 {
			if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1]) == cap(s.chunks[len(s.chunks)-1]) {
				s.chunks = append(s.chunks, make([]byte, 0, min(spoolChunk, max(64<<10, int(s.size)))))
			}
			c := &s.chunks[len(s.chunks)-1]
			k := min(len(p), cap(*c)-len(*c))
			*c = append(*c, p[:k]...)
			p = p[k:]
			s.size += int64(k)
		}
		return n, nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "forewarn-output-*")
		if err != nil {
			return 0, fmt.Errorf("spool an output beyond %d bytes: %w", spoolMemory, err)
		}
		s.file = f
		for _, c := range s.chunks {
			if _, err := f.Write(c); err != nil {
				return 0, fmt.Errorf("spool an output: %w", err)
			}
		}
		s.chunks = nil // release them
	}
	return s.file.Write(p)
}

// ReadAt reads what the chunks hold from off.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, c := range s.chunks {
		if off >= int64(len(c)) {
			off -= int64(len(c))
			continue
		}
		k := copy(p[n:], c[off:])
		n, off = n+k, 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// reader is what was written, from its start.
func (s *spool) reader() (io.ReadSeeker, error) {
	if s.file == nil {
		return io.NewSectionReader(s, 0, s.size), nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read back a spooled output: %w", err)
	}
	return s.file, nil
}

// close removes the temporary file, if any.
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// since is when this process first served content etag for key.
func (h *Handler) since(key, etag string, at time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.seen[key]; ok && s.etag == etag {
		return s.at
	}
	if len(h.seen) > 4*MaxOutputs {
		clear(h.seen) // names and files are bounded; a flood of events is not
	}
	h.seen[key] = seen{etag, at.Truncate(time.Second)}
	return at.Truncate(time.Second)
}

// record keeps the fetch in the store and tells the observer. A failure to
// record does not fail the fetch: the consumer got its list.
func (h *Handler) record(name string, at time.Time, by string, res Result) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.st.RecordOutputFetch(ctx, name, at, by, res.Entries, res.CutOff); err != nil {
		h.log.Warn("could not record an output fetch", "output", name, "err", err)
	}
	if h.obs != nil {
		h.obs.Fetched(name, at, res)
	}
}
