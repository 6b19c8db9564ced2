-- Web UI sessions (SQLite migration 007): only the SHA-256 of the cookie
-- value is kept.
CREATE TABLE ui_sessions (
    id_hash    text COLLATE "C" PRIMARY KEY,
    key_id     bigint NOT NULL,
    csrf       text COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL
);
