// Package dumpgen writes realistic, synthetic Seclytics Predictions bulk
// dumps: dataset A (all predictions) and dataset B (the rows of A whose
// importance is 70 or higher), gzip-compressed, as CSV or NDJSON.
//
// The rows follow the shape of the real feed so that parsers, the store and
// the benchmarks see realistic work: runs of consecutive addresses expanded
// from a predicted /24 (or an IPv6 /48 or /64) sharing their prediction,
// per-address detections, importance skewed low, IPs that come back later in
// the file with a newer last_seen_at, and, on request, a controlled share of
// malformed rows of every kind a parser must survive.
//
// The package must stay deterministic: the same Options (Seed included)
// always produce byte-identical output. It must therefore never read the
// clock, the environment or any global random source, and never let the
// output depend on map iteration order or on timing. Its memory use must not
// grow with the number of rows.
package dumpgen
