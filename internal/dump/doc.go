// Package dump decodes a Seclytics "seen predictions" bulk dump
// (seen-predictions-dump-a.json.gz) into raw records: bytes in, one Record of
// untyped column values out, in the feed's decode stage.
//
// A dump is gzip-compressed or plain, and CSV with a header row or NDJSON;
// NewReader works out which from the first bytes. CSV follows RFC 4180 as
// encoding/csv reads it (no lazy quotes), with columns found by header name,
// values trimmed and blank lines skipped; NDJSON has one object per line with
// the same keys. Reader.Next hands out one record at a time.
//
// Errors come in two kinds. A record that cannot be decoded (bad quoting, a
// wrong number of fields, a line that is not a JSON object) is a *RowError:
// the caller counts it and carries on. Anything that leaves the rest of the
// stream in doubt is fatal and ends the run: a truncated or damaged gzip
// stream (ErrCorrupt), an I/O error, or a limit hit (ErrLimit). The limits
// are the decompressed size (Limits.MaxDecompressed, default 32 GiB, against
// gzip bombs) and the longest record (Limits.MaxLine, default 1 MiB). A
// record longer than MaxLine fails the whole run rather than being skipped:
// it is most often an unbalanced quote swallowing the lines after it, and
// any resynchronisation would be a guess; the message says to raise
// --max-line if such records are legitimate.
//
// The package knows nothing about what the values mean: it does not
// validate addresses or dates, split list columns, filter, map or store.
// Those are later stages.
//
// It must never allocate per row on the CSV hot path, hold more than one
// record at a time (a Record and its slices are valid only until the next
// call of Next), or let its memory grow with the size of the dump: the read
// window is bounded by MaxLine, and every buffer is reused.
package dump
