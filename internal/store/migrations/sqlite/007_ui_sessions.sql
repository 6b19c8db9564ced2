-- Web UI sessions, in the store so that they survive a restart and work on
-- every serve instance sharing it. Only the SHA-256 of the cookie value is
-- kept: reading the table does not give a way in.
CREATE TABLE ui_sessions (
    id_hash    TEXT PRIMARY KEY,            -- hex SHA-256 of the cookie value
    key_id     INTEGER NOT NULL,            -- the API key signed in with
    csrf       TEXT NOT NULL,
    expires_at INTEGER NOT NULL             -- Unix seconds
);
