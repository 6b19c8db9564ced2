package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// ExportLimits bound export downloads, so that slow or many downloads
// cannot starve the API and the UI: an export holds a database connection
// for as long as its client takes to read it.
type ExportLimits struct {
	// Total and PerKey are how many exports run at once, in all and per
	// API key; beyond them a request gets 429 with Retry-After. Serve
	// sizes the store's export pool to Total.
	Total  int
	PerKey int
	// Stall is the longest a client may take to accept each ExportChunk
	// bytes of an export (a minimum transfer rate) before it is dropped.
	Stall time.Duration
	// RetryAfter is what a 429 tells the client to wait.
	RetryAfter time.Duration
}

// Export limits where ExportLimits leaves a field zero.
const (
	DefaultExportTotal  = 8
	DefaultExportPerKey = 2
	DefaultExportStall  = 30 * time.Second
	DefaultRetryAfter   = 30 * time.Second
	// ExportChunk is how much of an export is written at a time, each
	// within ExportLimits.Stall: 4 KB in 30 s is about 140 bytes a second.
	ExportChunk = 4 << 10
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l ExportLimits) WithDefaults() ExportLimits {
	if l.Total <= 0 {
		l.Total = DefaultExportTotal
	}
	if l.PerKey <= 0 {
		l.PerKey = DefaultExportPerKey
	}
	if l.Stall <= 0 {
		l.Stall = DefaultExportStall
	}
	if l.RetryAfter <= 0 {
		l.RetryAfter = DefaultRetryAfter
	}
	return l
}

// CodeTooManyRequests is the error code of a 429.
const CodeTooManyRequests = "too_many_requests"

// exportGate counts the exports in progress, in all and per key.
type exportGate struct {
	lim    ExportLimits
	mu     sync.Mutex
	total  int
	perKey map[int64]int
}

func newExportGate(l ExportLimits) *exportGate {
	return &exportGate{lim: l.WithDefaults(), perKey: map[int64]int{}}
}

// acquire admits one more export for the key, or returns an error that
// answers 429; release must be called when the export ends.
func (g *exportGate) acquire(key int64) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.perKey[key] >= g.lim.PerKey:
		return nil, &apiError{http.StatusTooManyRequests, Error{Code: CodeTooManyRequests, Message: fmt.Sprintf(
			"this API key already has %d exports in progress, the most allowed: wait for one to finish, then retry", g.lim.PerKey)}}
	case g.total >= g.lim.Total:
		return nil, &apiError{http.StatusTooManyRequests, Error{Code: CodeTooManyRequests, Message: fmt.Sprintf(
			"%d exports are in progress, the most allowed at once: retry after the time in Retry-After", g.lim.Total)}}
	}
	g.total++
	g.perKey[key]++
	return sync.OnceFunc(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.total--
		if g.perKey[key]--; g.perKey[key] <= 0 {
			delete(g.perKey, key)
		}
	}), nil
}

// retryAfter sets Retry-After on a 429.
func (g *exportGate) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(g.lim.RetryAfter.Round(time.Second).Seconds())))
}

// stallWriter gives each write to the client its own deadline, Stall from
// now: a client that stops reading is dropped after Stall instead of
// holding its export (and database connection) until ExportTimeout.
type stallWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.stall)); err != nil {
		return 0, fmt.Errorf("set the export's write deadline: %w", err)
	}
	return s.w.Write(p)
}

// newStallWriter buffers the export into ExportChunk writes, each with its
// own deadline; Flush it at the end.
func newStallWriter(w http.ResponseWriter, stall time.Duration) *bufio.Writer {
	return bufio.NewWriterSize(&stallWriter{w: w, rc: http.NewResponseController(w), stall: stall}, ExportChunk)
}

// ExportSendBuffer bounds the kernel's send buffer of a connection while
// it downloads an export: left to autotuning it grows to megabytes, which
// a client that stopped reading fills without the server noticing (and
// the server keeps them for it).
const ExportSendBuffer = 64 << 10

type connKey struct{}

// WithConn returns ctx carrying the request's connection: serve sets it
// (http.Server.ConnContext) so that exports can bound its send buffer.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// boundSendBuffer applies ExportSendBuffer to the request's TCP
// connection, if serve passed it.
func boundSendBuffer(ctx context.Context) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(ExportSendBuffer) // best effort: the stall limit still holds
	}
}

// isStall reports whether err is a write deadline passing: the client read
// too slowly.
func isStall(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
