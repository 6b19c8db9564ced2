// Package seclytics is the HTTP client of Seclytics' bulk API: it downloads
// a predictions dump with conditional GET, bounded retries with backoff and
// jitter, timeouts on connect and on a stalled body, and a size cap.
//
// The access token travels only in the request URL. The package must never
// let that URL, or the token, reach an error, a log line or a caller: every
// URL it shows is redacted first.
package seclytics
