// Package store keeps indicators, feed configurations and the activity log
// in SQLite (one file, the default) or PostgreSQL (a postgres:// DSN, for
// scale and several instances). One implementation serves both: queries
// are written once, and a dialect (sqldb.go) covers the few differences;
// see docs/postgres.md.
//
// Writes are set-based and transactional: a feed run opens one [Tx]
// ([Store.BeginIngest]), loads and writes indicators in batches, and commits
// everything at once or nothing. Each backend has its own Tx type around the
// reads they share: on SQLite (sqliteIngest) one writer connection
// serialises writes, each batch one upsert whose rows a table-valued
// function reads from memory (batchvtab.go), and a separate read pool serves
// lookups, which keep seeing the previous state during a run (WAL); on
// PostgreSQL (pgIngest, pgingest.go) a run COPYs its rows into a staging
// table and merges them set-based, in its transaction. Schema changes are
// embedded migrations per backend, applied in order, one transaction each.
//
// List feeds (blocklists) store beside Seclytics through [Store.IngestList]:
// one indicator per host or network (networks have 17-byte keys, read only
// as prefixes), a membership per feed, and each indicator's status and
// combined confidence recomputed set-based when its listings change (see
// docs/architecture.md).
//
// The store must never decide merge semantics (package merge does) and never
// log or return a feed's token except through [Store.FeedConfig].
package store
