// Package metrics holds forewarn's Prometheus metrics: feed runs and the rows
// they read, the last successful run, indicators by status, HTTP request
// durations by route, and the Go runtime. Everything is registered on a
// registry the caller passes in, never on the global one.
package metrics
