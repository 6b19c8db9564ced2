// Package server is `forewarn serve`: one process that runs the HTTP server
// (the REST API, the web UI, TAXII, /metrics, health checks), the feed
// runs and their scheduler, and the background refreshers, as a group of
// actors that start and stop together (see actors.go). On shutdown it
// stops accepting requests, cancels runs in progress (they roll back and
// are recorded as canceled), lets open requests drain within a grace
// period, and closes the store only once every actor has stopped.
//
// It must never start a goroutine that no actor owns: one would outlive
// the store.
package server
