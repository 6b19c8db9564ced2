// Package server is `forewarn serve`: one process that runs the HTTP server
// (the REST API, /metrics, health checks) and the feed scheduler, and
// stops them together. On shutdown it stops accepting requests, cancels
// runs in progress (they roll back and are recorded as canceled), lets
// open requests drain within a grace period, and closes the store.
package server
