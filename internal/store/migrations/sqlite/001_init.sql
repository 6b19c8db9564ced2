-- Feeds: one row per feed with its configuration and the state that lets
-- the next run skip an unchanged dump and pick its date window.
CREATE TABLE feeds (
    name          TEXT PRIMARY KEY,
    enabled       INTEGER NOT NULL DEFAULT 0,
    config        TEXT NOT NULL,            -- JSON, without the token
    token         TEXT,                     -- the access token; never logged
    watermark     INTEGER,                  -- Unix seconds: the until of the last successful run
    etag          TEXT,
    last_modified TEXT,
    body_sha256   TEXT,
    fingerprint   TEXT,                     -- the ingest parameters the validators were stored with
    updated_at    INTEGER NOT NULL
);

-- The activity log.
CREATE TABLE runs (
    id                   INTEGER PRIMARY KEY,
    feed                 TEXT NOT NULL,
    trigger              TEXT NOT NULL,
    status               TEXT NOT NULL,
    dry_run              INTEGER NOT NULL DEFAULT 0,
    dataset              TEXT NOT NULL DEFAULT '',
    started_at           INTEGER NOT NULL,  -- Unix milliseconds
    finished_at          INTEGER,
    since                INTEGER,           -- Unix seconds; NULL = unbounded
    until                INTEGER,
    http_status          INTEGER NOT NULL DEFAULT 0,
    bytes_downloaded     INTEGER NOT NULL DEFAULT 0,
    rows_read            INTEGER NOT NULL DEFAULT 0,
    rows_kept            INTEGER NOT NULL DEFAULT 0,
    dropped_invalid      INTEGER NOT NULL DEFAULT 0,
    dropped_threshold    INTEGER NOT NULL DEFAULT 0,
    dropped_category     INTEGER NOT NULL DEFAULT 0,
    dropped_window       INTEGER NOT NULL DEFAULT 0,
    warnings             INTEGER NOT NULL DEFAULT 0,
    indicators_created   INTEGER NOT NULL DEFAULT 0,
    indicators_updated   INTEGER NOT NULL DEFAULT 0,
    indicators_unchanged INTEGER NOT NULL DEFAULT 0,
    attributes_created   INTEGER NOT NULL DEFAULT 0,
    attributes_updated   INTEGER NOT NULL DEFAULT 0,
    error                TEXT,
    problems             TEXT,              -- JSON array of the first problems
    host                 TEXT NOT NULL DEFAULT '',
    pid                  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_feed_status ON runs (feed, status);

-- Indicators, keyed by the 16-byte address (IPv4 as IPv4-mapped IPv6), so
-- that keys sort numerically and a netblock is a key range.
--
-- Each source's attributes are typed columns of the indicator's row, named
-- <source>_<attribute>: one wide row per indicator upserts an order of
-- magnitude faster than one row per attribute, and faster than a
-- second table per source (measured: docs/performance.md). A list is its
-- values sorted and joined by U+001F. s_attr_runs packs, for each present
-- Seclytics attribute in column order, the ids of the runs that created it
-- and last changed it.
CREATE TABLE indicators (
    ip                      BLOB PRIMARY KEY,
    status                  TEXT NOT NULL,
    created_at              INTEGER NOT NULL,   -- Unix seconds
    updated_at              INTEGER NOT NULL,
    s_predicted_at          INTEGER,            -- Seclytics
    s_predicted_netblock    TEXT,
    s_predicted_category    TEXT,
    s_cluster               TEXT,
    s_detected_by           TEXT,
    s_detected_identifiers  TEXT,
    s_detected_categories   TEXT,
    s_detected_at           INTEGER,
    s_last_seen_at          INTEGER,
    s_importance            REAL,
    s_normalized_importance TEXT,
    s_attr_runs             BLOB,
    s_hash                  INTEGER             -- hash of the last record merged in; lets a re-run skip unchanged rows
) WITHOUT ROWID;
