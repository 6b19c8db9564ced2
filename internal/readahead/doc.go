// Package readahead reads a stream in a goroutine of its own, a few
// buffers ahead of its consumer, so that producing the bytes (inflating a
// gzip body) and parsing them run on two cores at once.
//
// It must never hold more than its fixed buffers, however far the producer
// gets ahead, and never read past the first error of its source.
package readahead
