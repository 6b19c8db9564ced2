// Package loggen writes realistic, synthetic Zeek conn.logs for testing and
// benchmarking the retro-hunt: internal hosts talking to a Zipf-skewed set
// of external addresses, in time order, with a chosen share of lines whose
// external address is one the store lists. It also writes which lines
// should hit, so a test can check that every hit is found and no other.
//
// The package must stay deterministic: the same Options (Seed and the
// address pools included) produce byte-identical output. It must never read
// the clock, the store or any global random source, and its memory must not
// grow with the number of lines.
package loggen
