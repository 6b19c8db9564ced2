// Package stage is a bounded-memory external sort: a run's kept rows go in
// unordered, and come out ordered by key, so that every row of one IP address
// arrives together and in merge order.
//
// Records are opaque (a fixed-length key and a value). Memory use is capped
// by the configured buffer: once it is full, the buffer is sorted and spilled
// to a temporary file, and the files are merged at the end. It must never
// hold more than one buffer of records in memory, and must remove every file
// it creates.
package stage
