-- Many sources per indicator (issue 16 §4): list feeds (blocklists such as
-- Spamhaus DROP or FireHOL) beside Seclytics.
--
-- Keys. A host keeps its 16-byte key (IPv4 mapped into IPv6). A network
-- that is not a single host (a list's CIDR entry) is an indicator of its own
-- with a 17-byte key: the masked network address in the same 16-byte form,
-- then the prefix length in that 128-bit space (an IPv4 /24 is 120), as
-- s_lookup_netblock already stores netblocks. It sorts right after its
-- network address's host key, so an address range is still a key range and
-- holds the networks that start in it. Every reader that turns a key into
-- an address reads only 16-byte keys (length(ip) = 16); the networks are
-- read by the membership reads and the lookup index. A second table for
-- networks was the alternative: it would have doubled every status,
-- confidence and membership statement for no gain in speed.
--
-- Seclytics keeps its wide s_* columns and writes no membership rows, so
-- its ingest does not change; its membership is derived from those columns
-- when read.

-- The list feeds that have run: the name shown as their source, their mode
-- and confidence, the age_out of a cumulative feed, and their last
-- successful run.
CREATE TABLE list_feeds (
    feed        TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    mode        TEXT NOT NULL,              -- snapshot | cumulative
    confidence  INTEGER NOT NULL,           -- 0-100
    age_out     INTEGER,                    -- seconds; NULL = never
    last_run_at INTEGER,                    -- Unix seconds
    etag          TEXT,                     -- the validators of the last body ingested
    last_modified TEXT,
    body_sha256   TEXT
);

-- One row per (feed, indicator) a list feed ever listed.
--   first_seen, last_seen: the feed's own dates, where it has them (NULL if not).
--   observed_first: the first run (Unix seconds) that read the entry;
--   observed_last: the last run that read it, refreshed when the entry
--     changes, when it was delisted, or when the stored one is older than
--     a tenth of age_out (a day when the feed never ages out), so that an
--     unchanged re-run writes nothing.
--   listed: 1 while the feed lists it; delisted_at: when it stopped.
--   attrs: the feed's attributes for it (see listattrs.go); hash: a hash of
--     the entry as last written, to skip unchanged entries.
CREATE TABLE memberships (
    feed           TEXT NOT NULL,
    ip             BLOB NOT NULL,
    listed         INTEGER NOT NULL,
    first_seen     INTEGER,
    last_seen      INTEGER,
    observed_first INTEGER NOT NULL,
    observed_last  INTEGER NOT NULL,
    delisted_at    INTEGER,
    attrs          BLOB,
    hash           INTEGER NOT NULL,
    PRIMARY KEY (feed, ip)
) WITHOUT ROWID;
-- An indicator's memberships, for reads and for recomputing its status and
-- confidence.
CREATE INDEX memberships_ip ON memberships (ip);

-- The networks among the indicators, for the lookup index: few beside the
-- hosts, so the partial index costs little and spares a scan of every row.
CREATE INDEX indicators_networks ON indicators (ip) WHERE length(ip) = 17;

-- Per indicator:
--   listings: how many list feeds list it now;
--   l_miss: the product of (1 - confidence/100) over those feeds (NULL: none);
--   s_listed: 1 while Seclytics lists it (its record has not expired);
--   confidence: the combined confidence, a noisy-OR of every listing
--     source: round(100 * (1 - l_miss * (1 - 0.80 * s_listed))), where 80 is
--     Seclytics' default confidence; NULL when no source lists it.
ALTER TABLE indicators ADD COLUMN listings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN l_miss REAL;
ALTER TABLE indicators ADD COLUMN s_listed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN confidence INTEGER;
-- The ids of the list feeds listing it, and their source names in the same
-- order, each sorted by feed id and joined by U+001F (NULL: none), so that
-- a read of many indicators (search, export) names them without a join.
ALTER TABLE indicators ADD COLUMN l_feeds TEXT;
ALTER TABLE indicators ADD COLUMN l_sources TEXT;

-- A list run counts the memberships it ended.
ALTER TABLE runs ADD COLUMN indicators_delisted INTEGER NOT NULL DEFAULT 0;

UPDATE indicators SET s_listed = 1, confidence = 80 WHERE status <> 'Expired';
