package dump

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

var (
	// ErrNoIPColumn reports a CSV dump whose header has no "ip" column, so
	// no row could be attributed to an address.
	ErrNoIPColumn = errors.New(`dump header has no "ip" column`)

	// ErrNotADump means the body is neither gzip, CSV nor NDJSON, such as
	// an HTML error page served with status 200.
	ErrNotADump = errors.New("the body is neither gzip, CSV nor NDJSON")

	// ErrLimit is wrapped by the errors that stop a dump for exceeding one
	// of its Limits. Their messages name the limit, its value and the flag
	// that raises it.
	ErrLimit = errors.New("dump limit exceeded")

	// ErrCorrupt is wrapped by the errors of a gzip stream that is
	// truncated or damaged (unexpected end, bad checksum, bad header, bad
	// deflate data). The gzip cause stays reachable with errors.Is.
	ErrCorrupt = errors.New("the dump is incomplete or corrupt")
)

// RowError reports a record that cannot be decoded. It is not fatal: the
// caller may count it and call Next again.
type RowError struct {
	// Line is the 1-based physical line where the record starts.
	Line int64
	// Reason says what is wrong with the record.
	Reason string
}

// Error returns the reason prefixed with the line, as in
// "line 12: wrong number of fields: got 10, want 11".
func (e *RowError) Error() string {
	return "line " + strconv.FormatInt(e.Line, 10) + ": " + e.Reason
}

// limitError is a fatal error for a limit hit; it matches ErrLimit.
type limitError struct {
	msg string
}

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrLimit }

func decompressedLimitError(limit int64) error {
	return &limitError{msg: "dump exceeds the decompressed size limit of " + formatSize(limit) +
		": raise --max-decompressed if the dump is legitimately this large"}
}

func lineLimitError(line int64, limit int) error {
	return &limitError{msg: "line " + strconv.FormatInt(line, 10) +
		" is longer than the line limit of " + formatSize(int64(limit)) +
		" (--max-line): raise --max-line if the dump legitimately has records this long"}
}

// corruptError is a fatal error for a damaged gzip stream; it matches
// ErrCorrupt and its cause (io.ErrUnexpectedEOF, gzip.ErrChecksum, ...).
type corruptError struct {
	what   string
	offset int64
	cause  error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("%s: %s after %d decompressed bytes (%v): download the dump again",
		ErrCorrupt.Error(), e.what, e.offset, e.cause)
}

func (e *corruptError) Unwrap() []error { return []error{ErrCorrupt, e.cause} }

// classifyReadError turns an error from the decompressed stream into the
// error Next reports: damage to the gzip stream wraps ErrCorrupt, anything
// else (network, disk, cancellation) is an I/O error passed through with
// context.
func classifyReadError(err error, compressed bool, offset int64) error {
	var corrupt flate.CorruptInputError
	var internal flate.InternalError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		what := "the body ends early"
		if compressed {
			what = "the gzip stream ends early"
		}
		return &corruptError{what: what, offset: offset, cause: err}
	case errors.Is(err, gzip.ErrChecksum):
		return &corruptError{what: "the gzip checksum does not match", offset: offset, cause: err}
	case errors.Is(err, gzip.ErrHeader):
		return &corruptError{what: "a gzip header is invalid", offset: offset, cause: err}
	case errors.As(err, &corrupt), errors.As(err, &internal):
		return &corruptError{what: "the compressed data is invalid", offset: offset, cause: err}
	}
	return fmt.Errorf("read the dump after %d decompressed bytes: %w", offset, err)
}

// formatSize writes a byte count the way a person would type it in a flag.
func formatSize(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib && n%gib == 0:
		return strconv.FormatInt(n/gib, 10) + " GiB"
	case n >= mib && n%mib == 0:
		return strconv.FormatInt(n/mib, 10) + " MiB"
	case n >= kib && n%kib == 0:
		return strconv.FormatInt(n/kib, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
