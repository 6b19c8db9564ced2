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
CREATE TABLE indicators (
    ip         BLOB PRIMARY KEY,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,            -- Unix seconds
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The Seclytics attributes of each indicator: one wide row of typed columns
-- per indicator, which upserts an order of magnitude faster than one row per
-- attribute. A single-valued attribute is a column; a list is its values
-- sorted and joined by U+001F. attr_runs packs, for each present attribute
-- in column order, the ids of the runs that created it and last changed it.
CREATE TABLE seclytics (
    ip                    BLOB PRIMARY KEY,
    predicted_at          INTEGER,
    predicted_netblock    TEXT,
    predicted_category    TEXT,
    cluster               TEXT,
    detected_by           TEXT,
    detected_identifiers  TEXT,
    detected_categories   TEXT,
    detected_at           INTEGER,
    last_seen_at          INTEGER,
    importance            REAL,
    normalized_importance TEXT,
    attr_runs             BLOB NOT NULL
) WITHOUT ROWID;
