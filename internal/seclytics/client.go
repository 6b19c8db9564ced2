package seclytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"forewarn/internal/secret"
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	BaseURL        string
	Token          secret.String
	Tries          int           // default 5
	ConnectTimeout time.Duration // default 30s; also bounds TLS and response headers
	IdleTimeout    time.Duration // default 60s without a byte of body
	MaxBody        int64         // default 4 GiB (compressed)
	BackoffBase    time.Duration // default 1s; doubled per try, with jitter
	BackoffMax     time.Duration // default 60s; also caps Retry-After
	Logger         *slog.Logger
	// OnRetry, when set, is called after a failed try that will be
	// retried, before the wait: try of tries failed with err (which, like
	// every error here, never holds the token) and the next starts after
	// wait. A run's live progress shows it.
	OnRetry func(try, tries int, wait time.Duration, err error)
}

// Client downloads Seclytics dumps.
type Client struct {
	o    Options
	http *http.Client
}

// New returns a client.
func New(o Options) *Client {
	if o.Tries <= 0 {
		o.Tries = 5
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 4 << 30
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ConnectTimeout,
		IdleConnTimeout:       90 * time.Second,
		// The dump is already gzip: asking for transparent compression
		// would only hide its real size from the limits.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	return &Client{o: o, http: &http.Client{Transport: tr, CheckRedirect: sameOriginRedirect}}
}

// ErrCrossOriginRedirect is wrapped when the server redirects to another
// origin: following would hand the request, and with it the token, to a
// host the configuration never named.
var ErrCrossOriginRedirect = errors.New("Seclytics redirected to another origin; not followed")

// sameOriginRedirect follows a redirect only within the origin of the
// first request, at most 10 times.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	from, to := via[0].URL, req.URL
	if !strings.EqualFold(from.Scheme, to.Scheme) || !strings.EqualFold(from.Host, to.Host) {
		// Only the origin is named: the rest of the Location is the
		// server's text and may carry anything.
		return fmt.Errorf("%w (to %s://%s): check base_url, which must name the origin that serves the dumps",
			ErrCrossOriginRedirect, to.Scheme, to.Host)
	}
	return nil
}

// Request says what to download.
type Request struct {
	Dataset string // "A" or "B"
	// Validators of the last ingested dump, for a conditional GET.
	ETag         string
	LastModified string
}

// Response is a downloaded dump. The caller must Close it.
type Response struct {
	Status       int
	NotModified  bool // 304: the dump has not changed since the validators
	ETag         string
	LastModified string
	Length       int64 // Content-Length, or -1
	ContentType  string
	Body         io.ReadCloser
	Tries        int
}

// Errors a caller may branch on.
var (
	ErrUnauthorized = errors.New("Seclytics rejected the access token")
	ErrForbidden    = errors.New("Seclytics refused access")
	ErrNotFound     = errors.New("Seclytics has no such dump")
	ErrGaveUp       = errors.New("Seclytics did not answer successfully")
	ErrNoToken      = errors.New("no Seclytics access token is configured")
	ErrTooLarge     = errors.New("the dump is larger than the compressed size limit")
	ErrStalled      = errors.New("the download stalled")
)

// DumpURL is the dump's URL without the token.
func DumpURL(base, dataset string) string {
	return strings.TrimRight(base, "/") + "/bulk/seen-predictions-dump-" + strings.ToLower(dataset) + ".json.gz"
}

// Fetch downloads a dump. Connection errors, 5xx and 429 are retried with
// exponential backoff and jitter, honouring Retry-After; 401, 403 and 404
// fail at once. The body is capped at MaxBody and fails if no byte arrives
// for IdleTimeout.
func (c *Client) Fetch(ctx context.Context, req Request) (*Response, error) {
	if !c.o.Token.IsSet() {
		return nil, fmt.Errorf("%w: put it in a file and pass --token-file FILE, set SECLYTICS_ACCESS_TOKEN, or store it with forewarn config seclytics --token-file FILE", ErrNoToken)
	}
	dataset := strings.ToUpper(req.Dataset)
	plain := DumpURL(c.o.BaseURL, dataset)
	u, err := url.Parse(plain)
	if err != nil {
		return nil, fmt.Errorf("dump URL %s: %w", plain, err)
	}
	q := u.Query()
	q.Set("access_token", c.o.Token.Reveal())
	u.RawQuery = q.Encode()
	full := u.String()

	var last error
	for try := 1; try <= c.o.Tries; try++ {
		resp, wait, err := c.once(ctx, full, plain, dataset, req)
		if err == nil {
			resp.Tries = try
			return resp, nil
		}
		last = err
		if wait < 0 || try == c.o.Tries {
			break
		}
		if wait == 0 {
			wait = c.backoff(try)
		}
		c.o.Logger.Warn("seclytics download failed; retrying", "try", try, "of", c.o.Tries, "wait", wait, "error", err.Error())
		if c.o.OnRetry != nil {
			c.o.OnRetry(try, c.o.Tries, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("download %s: %w (after %d tries; last error: %v)", plain, ctx.Err(), try, last)
		case <-t.C:
		}
	}
	if errors.As(last, new(permanentError)) {
		return nil, last
	}
	return nil, fmt.Errorf("%w after %d tries: %w; check the network and https://status.seclytics.com, or raise the tries setting", ErrGaveUp, c.o.Tries, last)
}

// permanentError marks an error that retrying cannot cure (401, 403, 404,
// a size over the limit). It adds nothing to the message a person reads.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// backoff is exponential with full jitter in [d/2, d].
func (c *Client) backoff(try int) time.Duration {
	d := c.o.BackoffBase << (try - 1)
	if d > c.o.BackoffMax || d <= 0 {
		d = c.o.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// once makes one request. wait < 0 means do not retry; wait > 0 is a
// server-requested delay.
func (c *Client) once(ctx context.Context, full, plain, dataset string, req Request) (*Response, time.Duration, error) {
	// The request context is canceled by the idle watchdog when the body
	// stalls, and when the body is closed.
	rctx, cancel := context.WithCancelCause(ctx)
	hreq, err := http.NewRequestWithContext(rctx, http.MethodGet, full, nil)
	if err != nil {
		cancel(nil)
		return nil, -1, fmt.Errorf("build request for %s: %w", plain, err)
	}
	hreq.Header.Set("User-Agent", "forewarn")
	hreq.Header.Set("Accept-Encoding", "identity")
	if req.ETag != "" {
		hreq.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		hreq.Header.Set("If-Modified-Since", req.LastModified)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		cancel(nil)
		if ctx.Err() != nil {
			return nil, -1, fmt.Errorf("download %s: %w", plain, ctx.Err())
		}
		return nil, 0, fmt.Errorf("download %s: %w", plain, c.redact(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		drain(resp.Body)
		cancel(nil)
		return &Response{Status: resp.StatusCode, NotModified: true, ETag: req.ETag, LastModified: req.LastModified, Body: http.NoBody}, 0, nil
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength > c.o.MaxBody {
			drain(resp.Body)
			cancel(nil)
			return nil, -1, permanent(fmt.Errorf("%w %s: %s announces %d bytes; raise max_compressed if the dump is legitimately this large",
				ErrTooLarge, sizeText(c.o.MaxBody), plain, resp.ContentLength))
		}
		body := newWatchedBody(resp.Body, c.o.IdleTimeout, c.o.MaxBody, cancel, c.o.Token)
		return &Response{
			Status: resp.StatusCode, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
			Length: resp.ContentLength, ContentType: resp.Header.Get("Content-Type"), Body: body,
		}, 0, nil
	}
	status := resp.StatusCode
	// Only a vendor's 4xx JSON message is quoted: any other body may be a
	// page the token should never have reached, and the run's error is
	// readable with a read key.
	msg := ""
	if status >= 400 && status < 500 {
		msg = errorMessage(resp.Body)
	}
	drain(resp.Body)
	cancel(nil)
	withMsg := ""
	if msg != "" {
		withMsg = ": " + c.o.Token.Scrub(msg)
	} else if ct := resp.Header.Get("Content-Type"); ct != "" {
		withMsg = " (Content-Type " + strconv.Quote(ShortText(ct)) + ")"
	}
	switch {
	case status == http.StatusUnauthorized:
		return nil, -1, permanent(fmt.Errorf("%w (HTTP 401)%s: check the access token in the feed's configuration (forewarn config seclytics --token-file FILE) or SECLYTICS_ACCESS_TOKEN", ErrUnauthorized, withMsg))
	case status == http.StatusForbidden:
		return nil, -1, permanent(fmt.Errorf("%w to dataset %s (HTTP 403)%s: check that your subscription includes dataset %s, or choose the other dataset", ErrForbidden, dataset, withMsg, dataset))
	case status == http.StatusNotFound:
		return nil, -1, permanent(fmt.Errorf("%w for dataset %s at %s (HTTP 404)%s: check the base URL and the dataset", ErrNotFound, dataset, plain, withMsg))
	case status == http.StatusTooManyRequests || status >= 500:
		return nil, retryAfter(resp.Header.Get("Retry-After"), c.o.BackoffMax), fmt.Errorf("HTTP %d from %s%s", status, plain, withMsg)
	}
	return nil, -1, permanent(fmt.Errorf("unexpected HTTP %d from %s%s", status, plain, withMsg))
}

// redact strips the URL, and with it the token, from a transport error.
func (c *Client) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		inner := ue.Err
		if errors.Is(inner, context.DeadlineExceeded) || strings.Contains(inner.Error(), "timeout") {
			return fmt.Errorf("%s: timed out (connect timeout %s): %w", ue.Op, c.o.ConnectTimeout, scrubbed{inner, c.o.Token})
		}
		return fmt.Errorf("%s: %w", ue.Op, scrubbed{inner, c.o.Token})
	}
	return scrubbed{err, c.o.Token}
}

// scrubbed keeps an error's chain but removes the token from its text.
type scrubbed struct {
	err error
	tok secret.String
}

func (s scrubbed) Error() string { return s.tok.Scrub(s.err.Error()) }
func (s scrubbed) Unwrap() error { return s.err }

func retryAfter(v string, max time.Duration) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	if d <= 0 {
		return 0
	}
	return min(d, max)
}

// errorMessage reads Seclytics' JSON error body {"error":{"message":...}}
// or {"message":...}. Anything else gives "".
func errorMessage(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 16<<10))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	msg := e.Error.Message
	if msg == "" {
		msg = e.Message
	}
	return ShortText(msg)
}

// ShortText shortens a server-supplied text to 200 bytes of
// printable characters, for an error message.
func ShortText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	r.Close()
}

func sizeText(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// watchedBody enforces the idle timeout and the size cap on a body.
type watchedBody struct {
	r       io.ReadCloser
	max     int64
	n       int64
	idle    time.Duration
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	tok     secret.String
	mu      sync.Mutex
	stalled bool
}

func newWatchedBody(r io.ReadCloser, idle time.Duration, max int64, cancel context.CancelCauseFunc, tok secret.String) *watchedBody {
	w := &watchedBody{r: r, max: max, idle: idle, cancel: cancel, tok: tok}
	w.timer = time.AfterFunc(idle, func() {
		w.mu.Lock()
		w.stalled = true
		w.mu.Unlock()
		cancel(ErrStalled)
	})
	return w
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.timer.Reset(w.idle)
	}
	w.n += int64(n)
	if w.n > w.max {
		return n, fmt.Errorf("%w of %s: raise max_compressed if the dump is legitimately this large", ErrTooLarge, sizeText(w.max))
	}
	if err != nil && err != io.EOF {
		w.mu.Lock()
		stalled := w.stalled
		w.mu.Unlock()
		if stalled {
			return n, fmt.Errorf("%w: no data for %s (idle timeout); the connection was closed", ErrStalled, w.idle)
		}
		return n, fmt.Errorf("download interrupted after %d bytes: %w", w.n, scrubbed{err, w.tok})
	}
	return n, err
}

func (w *watchedBody) Close() error {
	w.timer.Stop()
	err := w.r.Close()
	w.cancel(nil)
	return err
}
