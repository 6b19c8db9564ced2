-- Indicator lifecycle: expiry and allow-lists (issue 7).
--
-- s_seen_at is the start (Unix seconds) of the last Seclytics run that wrote
-- the indicator's row. A run skips rows whose record has not changed, so it
-- is refreshed only when the row is written for another reason, or when the
-- expiry it gives has drifted by more than a tenth of age_out: it is the
-- fallback base of the expiry when the indicator has no Last Seen At.
--
-- expires_at is when the indicator ages out (Unix seconds; NULL = never):
-- COALESCE(s_last_seen_at, s_seen_at) + the feed's age_out, so that each
-- indicator expires on its own dates, not a whole batch at once. Rows stored
-- before this migration get theirs from the next run (see expiry_policy).
ALTER TABLE indicators ADD COLUMN s_seen_at INTEGER;
ALTER TABLE indicators ADD COLUMN expires_at INTEGER;

-- Expiry marks Active indicators whose expires_at has passed. Only Active
-- rows can expire (a person's Whitelisted or Review stays), so the index
-- holds only those, and shrinks as rows expire.
CREATE INDEX indicators_expiry ON indicators (expires_at) WHERE status = 'Active';

-- The age_out (seconds; NULL = never) the stored expires_at were computed
-- with, per feed. A run with another age_out recomputes every expires_at
-- first, in its own transaction; no row here means never computed.
CREATE TABLE expiry_policy (
    feed    TEXT PRIMARY KEY,
    age_out INTEGER
);

-- Allow-list entries: never block these. Built-in special-purpose ranges are
-- not stored here (see internal/allowlist).
CREATE TABLE allowlist (
    cidr     TEXT PRIMARY KEY,      -- masked prefix; a single address as /32 or /128
    comment  TEXT NOT NULL DEFAULT '',
    added_by TEXT NOT NULL DEFAULT '',
    added_at INTEGER NOT NULL       -- Unix seconds
);

-- Runs count the kept rows an allow-list matched (ingested Whitelisted) and
-- the indicators they marked Expired.
ALTER TABLE runs ADD COLUMN rows_allowlisted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN indicators_expired INTEGER NOT NULL DEFAULT 0;
