package fakeseclytics

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/config"
)

// Mangle is a way of damaging the served bytes.
type Mangle string

// Manglings of the served bytes.
const (
	// MangleTruncate serves the first two thirds of the body, with a
	// matching Content-Length: a file cut short at the source, which only
	// the gzip trailer can reveal.
	MangleTruncate Mangle = "truncate"
	// MangleCRC flips the bits of the first byte of the gzip trailer's
	// CRC-32 (8 bytes from the end).
	MangleCRC Mangle = "crc"
)

// apply returns the mangled view of content, of length size, and its new
// length.
func (m Mangle) apply(content io.ReadSeeker, size int64) (io.ReadSeeker, int64) {
	ra, ok := content.(io.ReaderAt)
	if !ok {
		return content, size
	}
	switch m {
	case MangleTruncate:
		n := size * 2 / 3
		return io.NewSectionReader(ra, 0, n), n
	case MangleCRC:
		if size >= 8 {
			return &flipReader{ReadSeeker: io.NewSectionReader(ra, 0, size), at: size - 8}, size
		}
	}
	return content, size
}

// flipReader inverts the byte at offset at.
type flipReader struct {
	io.ReadSeeker
	pos, at int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.ReadSeeker.Read(p)
	if i := f.at - f.pos; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

func (f *flipReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := f.ReadSeeker.Seek(offset, whence)
	f.pos = pos
	return pos, err
}

// slowBody sends the 200 headers with the full Content-Length, then the
// body at fault.Rate bytes a second, or, for a stall, its first
// fault.StallAfter bytes and then nothing until the client goes away or the
// server closes.
func (s *Server) slowBody(w http.ResponseWriter, r *http.Request, content io.Reader, size int64, fault Fault) {
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
		case <-s.done:
		}
		return false
	}
	limit := size
	if fault.Stall {
		limit = min(max(fault.StallAfter, 0), size)
	}
	slice := limit // no rate: one slice
	if fault.Rate > 0 {
		slice = max(fault.Rate/10, 1)
	}
	for sent := int64(0); sent < limit; {
		n, err := io.CopyN(w, content, min(slice, limit-sent))
		sent += n
		if err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		if fault.Rate > 0 && sent < limit && !wait(100*time.Millisecond) {
			return
		}
	}
	if fault.Stall {
		wait(time.Hour)
	}
}

// ParseFault reads a fault from the fake-seclytics --fault flag: items
// separated by commas, each one of
//
//	STATUS[xN]       answer HTTP STATUS (401, 403, 404, 429, 500, 503 ...), N times or for ever
//	xN, times=N      apply the fault to the next N requests only
//	retry-after=S    send Retry-After: S
//	cut=BYTES        send BYTES of the body, then drop the connection
//	html             answer 200 with an HTML maintenance page
//	stall[=BYTES]    send the headers and BYTES of the body (default 0), then nothing
//	trickle=RATE     send the body at RATE bytes a second (10KiB, 1MiB ...)
//	truncate         serve the first two thirds of the dump
//	crc              serve the dump with a wrong gzip CRC-32
//	empty            answer 200 with an empty body
//	header-only      answer 200 with a gzip CSV holding only the header
//	no-ip            answer 200 with a gzip CSV whose header has no ip column
//	bomb=SIZE        answer 200 with a gzip CSV of SIZE bytes once decompressed
//	long-line=SIZE   answer 200 with a gzip CSV holding one line of SIZE bytes
//
// For example "503x2", "429x1,retry-after=1", "stall=4096", "bomb=1GiB".
// An empty spec is no fault.
func ParseFault(spec string) (Fault, error) {
	var f Fault
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, hasValue := strings.Cut(item, "=")
		bad := func(why string) (Fault, error) {
			return Fault{}, fmt.Errorf("--fault %q: %s: %s", spec, item, why)
		}
		needValue := func() bool { return hasValue && value != "" }
		size := func() (int64, bool) {
			var s config.Size
			if !needValue() || s.UnmarshalText([]byte(value)) != nil {
				return 0, false
			}
			return int64(s), true
		}
		switch {
		case name == "times" || (strings.HasPrefix(name, "x") && !hasValue):
			v := value
			if !hasValue {
				v = name[1:]
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return bad("want a count of 1 or more")
			}
			f.Times = n
		case name != "" && name[0] >= '1' && name[0] <= '5' && !hasValue:
			code, times, _ := strings.Cut(name, "x")
			status, err := strconv.Atoi(code)
			if err != nil || status < 100 || status > 599 {
				return bad("want an HTTP status such as 503, optionally with xN")
			}
			f.Status = status
			if times != "" {
				n, err := strconv.Atoi(times)
				if err != nil || n < 1 {
					return bad("want a count of 1 or more after x")
				}
				f.Times = n
			}
		case name == "retry-after" && needValue():
			f.RetryAfter = value
		case name == "cut":
			n, ok := size()
			if !ok || n < 1 {
				return bad("want a byte count, such as cut=4096")
			}
			f.CutAfter = n
		case name == "html" && !hasValue:
			f.HTML = true
		case name == "stall":
			f.Stall = true
			if hasValue {
				n, ok := size()
				if !ok {
					return bad("want a byte count, such as stall=4096")
				}
				f.StallAfter = n
			}
		case name == "trickle":
			n, ok := size()
			if !ok || n < 1 {
				return bad("want bytes a second, such as trickle=10KiB")
			}
			f.Rate = n
		case (name == "truncate" || name == "crc") && !hasValue:
			f.Mangle = Mangle(name)
		case name == "empty" && !hasValue:
			f.Body = []byte{}
		case name == "header-only" && !hasValue:
			f.Body = HeaderOnlyBody()
		case name == "no-ip" && !hasValue:
			f.Body = NoIPColumnBody()
		case name == "bomb":
			n, ok := size()
			if !ok || n < 1 {
				return bad("want a decompressed size, such as bomb=1GiB")
			}
			f.Body = BombBody(n)
		case name == "long-line":
			n, ok := size()
			if !ok || n < 1 {
				return bad("want a line length, such as long-line=2MiB")
			}
			f.Body = LongLineBody(n)
		default:
			return bad("unknown fault; see forewarn fake-seclytics -h")
		}
	}
	return f, nil
}

// csvHeader is the header of a Seclytics predictions dump.
const csvHeader = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n"

// csvRow is a valid row that passes the default filters.
const csvRow = "198.51.100.7,2018-06-21T02:03:48,198.51.100.0/24,spam,c1,uceptect_level2,id1,malicious,2021-02-09T00:00:00,2022-11-27T00:00:00,85\n"

func gzipped(write func(io.Writer)) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	write(zw)
	_ = zw.Close()
	return b.Bytes()
}

// HeaderOnlyBody is a gzip CSV dump with a header and no rows.
func HeaderOnlyBody() []byte {
	return gzipped(func(w io.Writer) { _, _ = io.WriteString(w, csvHeader) })
}

// NoIPColumnBody is a gzip CSV whose header lacks the ip column.
func NoIPColumnBody() []byte {
	return gzipped(func(w io.Writer) {
		_, _ = io.WriteString(w, "address,importance,detected_categories\n198.51.100.7,85,malicious\n")
	})
}

// BombBody is a small gzip CSV that decompresses to about size bytes: a
// header and one row repeated.
func BombBody(size int64) []byte {
	return gzipped(func(w io.Writer) {
		_, _ = io.WriteString(w, csvHeader)
		chunk := []byte(strings.Repeat(csvRow, (64<<10)/len(csvRow)))
		for n := int64(len(csvHeader)); n < size; n += int64(len(chunk)) {
			_, _ = w.Write(chunk)
		}
	})
}

// LongLineBody is a gzip CSV with a valid row, then a row whose cluster is
// so long that the line is size bytes, then another valid row.
func LongLineBody(size int64) []byte {
	return gzipped(func(w io.Writer) {
		_, _ = io.WriteString(w, csvHeader+csvRow)
		_, _ = io.WriteString(w, "198.51.100.8,2018-06-21T02:03:48,198.51.100.0/24,spam,")
		pad := []byte(strings.Repeat("c", 64<<10))
		for n := int64(0); n < size; n += int64(len(pad)) {
			_, _ = w.Write(pad[:min(int64(len(pad)), size-n)])
		}
		_, _ = io.WriteString(w, ",uceptect_level2,id1,malicious,2021-02-09T00:00:00,2022-11-27T00:00:00,85\n")
		_, _ = io.WriteString(w, strings.Replace(csvRow, "198.51.100.7", "198.51.100.9", 1))
	})
}
