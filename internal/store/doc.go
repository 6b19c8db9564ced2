// Package store keeps indicators, feed configurations and the activity log
// in SQLite (one file, the default).
//
// Writes are set-based and transactional: a feed run opens one [Ingest], loads
// and writes indicators in batches, and commits everything at once or
// nothing. One writer connection serialises writes; a separate read pool
// serves lookups, which keep seeing the previous state during a run (WAL).
// Schema changes are embedded migrations applied in order, one transaction
// each.
//
// The store must never decide merge semantics (package merge does) and never
// log or return a feed's token except through [Store.FeedConfig].
package store
