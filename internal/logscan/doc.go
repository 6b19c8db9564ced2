// Package logscan reads the logs a retro-hunt looks through — Zeek logs (TSV
// with #fields, and JSON), Suricata eve.json, nginx/Apache combined access
// logs, CSV with a header, and any text — and hands out, per line, the
// line's time (when its format has one) and every IP address in it with the
// field it came from.
//
// A Scanner detects the format from the first lines unless told, reads
// plain or gzip input (it sniffs the magic bytes, and decompresses in a
// goroutine of its own so that decompression and parsing overlap), and
// streams: its memory is bounded by the longest line allowed (MaxLine), not
// by the size of the log. (The decompressed total is not capped, unlike a
// feed's download: the log is the user's own, and however large it
// decompresses, only one line is held.) Like the dump parsers, it does not allocate per
// line on the hot path: the Line it returns is valid until the next call of
// Next.
//
// It must never decide what an address means (that is the matcher's job),
// never touch the store or the network, and never hold more than one line
// of the log.
package logscan
