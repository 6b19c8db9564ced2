-- Output profiles (SQLite migration 012): a named, stored export for one
-- consumer with a key of its own; see the SQLite migration for the columns.
CREATE TABLE outputs (
    name       text COLLATE "C" PRIMARY KEY,
    spec       text NOT NULL,
    key_hash   text COLLATE "C" NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    created_at bigint NOT NULL,
    created_by text NOT NULL DEFAULT '',
    fetched_at bigint,
    fetched_by text NOT NULL DEFAULT '',
    entries    bigint,
    cutoff     text NOT NULL DEFAULT ''
);
