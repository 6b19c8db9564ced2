// Package testutil holds the few helpers several packages' tests share: a
// real Seclytics-compatible server on loopback, a real SQLite store in a
// temporary directory, and a buffer safe to write from one goroutine and
// read from another. It is imported by tests only.
package testutil
