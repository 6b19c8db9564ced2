package listrun

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"forewarn/internal/store"
)

// Fetcher downloads a list feed's body over HTTP.
type Fetcher struct {
	// URL is the feed's base_url plus its path.
	URL string
	// Header is added to the request (authentication); never shown.
	Header http.Header
	// Query is added to the URL's query (a token sent as a query
	// parameter); never shown: errors name URL without it.
	Query url.Values
	// Timeout bounds the whole download (default 2 minutes).
	Timeout time.Duration
	// MaxBytes caps the body as downloaded and as decompressed
	// (default 512 MiB).
	MaxBytes int64
	// Client is the HTTP client (default: one without a global timeout,
	// bounded by Timeout through the request's context).
	Client *http.Client
}

// ErrTooLarge is wrapped when a body exceeds Fetcher.MaxBytes.
var ErrTooLarge = errors.New("body too large")

// Body is a downloaded body, spooled to a temporary file.
type Body struct {
	// NotModified: the server answered 304 to the conditional GET.
	NotModified bool
	HTTPStatus  int
	// Bytes is the size as downloaded; the file holds it decompressed.
	Bytes      int64
	Validators store.ListValidators
	file       *os.File
}

// Open returns a reader of the decompressed body, from its start.
func (b *Body) Open() (io.Reader, error) {
	if b.file == nil {
		return nil, errors.New("no body")
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(b.file, 64<<10), nil
}

// Close removes the temporary file.
func (b *Body) Close() error {
	if b.file == nil {
		return nil
	}
	f := b.file
	b.file = nil
	return errors.Join(f.Close(), os.Remove(f.Name()))
}

// Fetch downloads the body, asking the server for it only if it changed
// since prev (If-None-Match, If-Modified-Since). A gzip body (by its magic
// bytes) is decompressed. The file goes to dir (default: the system's).
func (f *Fetcher) Fetch(ctx context.Context, prev store.ListValidators, dir string) (*Body, error) {
	timeout, maxBytes := f.Timeout, f.MaxBytes
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	if maxBytes <= 0 {
		maxBytes = 512 << 20
	}
	client := f.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: the feed's URL is invalid: check its base_url and path: %w", err)
	}
	if len(f.Query) > 0 {
		q := req.URL.Query()
		for k, vs := range f.Query {
			q[k] = append(q[k], vs...)
		}
		req.URL.RawQuery = q.Encode()
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	// The body's own gzip is decompressed here, under the cap.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, query included: keep only
		// its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("fetch %s: %w", shown(req.URL), err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	b := &Body{HTTPStatus: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		b.NotModified, b.Validators = true, prev
		return b, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return b, fmt.Errorf("fetch %s: the server refused access (HTTP %d): check the feed's credentials", shown(req.URL), resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return b, fmt.Errorf("fetch %s: HTTP %d: check the feed's base_url, or retry later", shown(req.URL), resp.StatusCode)
	}
	b.Validators.ETag, b.Validators.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if b.file, err = os.CreateTemp(dir, "forewarn-list-*"); err != nil {
		return b, fmt.Errorf("fetch: spool the body: %w", err)
	}
	if err := b.spool(resp.Body, maxBytes); err != nil {
		b.Close()
		return b, fmt.Errorf("fetch %s: %w", shown(req.URL), err)
	}
	return b, nil
}

// spool copies the body into the file, decompressing gzip, both sides
// capped, and hashes what it wrote.
func (b *Body) spool(r io.Reader, maxBytes int64) error {
	counted := &countReader{r: io.LimitReader(r, maxBytes+1)}
	br := bufio.NewReaderSize(counted, 64<<10)
	var src io.Reader = br
	what := "read the body"
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("the gzip body is corrupt: %w", err)
		}
		defer zr.Close()
		src, what = zr, "the gzip body is corrupt or truncated"
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(b.file, h), io.LimitReader(src, maxBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n > maxBytes || counted.n > maxBytes {
		return fmt.Errorf("the body is over %d bytes: %w", maxBytes, ErrTooLarge)
	}
	b.Bytes = counted.n
	b.Validators.BodySHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// shown is the URL as errors show it: without user info or query, either
// of which may carry a feed's credentials (a token in a query parameter).
func shown(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment = nil, "", false, ""
	return c.String()
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
