-- Output profiles (issue 19): a named, stored export for one consumer,
-- served at /outputs/NAME with a key of its own. Only the SHA-256 of the
-- key is stored, with its first characters for listings. spec is the
-- profile's format and options as JSON (output.Spec), decoded strictly by
-- the service, so that a new option needs no migration. The fetch columns
-- are the last successful fetch: when, by whom (address and user name),
-- how many entries it held and the budget's cut-off (the lowest rank that
-- made it).
CREATE TABLE outputs (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,            -- Unix seconds
    created_by TEXT NOT NULL DEFAULT '',
    fetched_at INTEGER,
    fetched_by TEXT NOT NULL DEFAULT '',
    entries    INTEGER,
    cutoff     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
