// Package listrun runs a list feed (a blocklist such as Spamhaus DROP or
// FireHOL) once: it takes the feed's run lock, records the run in the
// activity log, fetches the body (conditional GET, gzip or plain, size
// capped, spooled to a temporary file and hashed), skips an unchanged
// body, parses it with the feed's parser into entries, and hands them to
// the store (store.IngestList), which commits the whole run or nothing.
//
// It knows nothing of a feed's format: the parser is given (package
// feeddef builds them from definitions). It must never leave a run
// "running" when it returns, never write to the store when the body or the
// parse fails or the run is cancelled, and never put a request header (a
// feed's token) into a run record, an error or a log line.
package listrun
