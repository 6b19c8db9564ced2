-- API keys of the REST API (forewarn serve). Only the SHA-256 of a key is
-- stored, with its first characters after "fwk_" so that a listing can show
-- which key is which; the key itself is shown once, when it is made.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,             -- read | admin
    hash         TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the whole key; authentication looks it up
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,          -- Unix seconds
    last_used_at INTEGER,                   -- written at most once a minute per key
    revoked_at   INTEGER
);

-- The indicator search sorted by last update reads one index range from its
-- cursor on. Each entry also holds the address (the primary key), so the
-- index order is (updated_at, ip), the search's order. Measured at 1M
-- indicators (keep-everything ingest, alternating runs): +10% on a fresh
-- ingest, +15% on a re-run with 10% of rows changed.
--
-- There is deliberately no index for the sort by importance: one on
-- COALESCE(s_importance, -1) made the same fresh ingest 29% slower (its
-- entries arrive in random order), so that sort scans the table.
CREATE INDEX indicators_updated ON indicators (updated_at);
