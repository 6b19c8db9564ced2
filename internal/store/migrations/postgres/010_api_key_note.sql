-- A note on each API key (SQLite migration 015): what the key is for,
-- where it is installed, whom to ask before revoking it. Shown in the key
-- list; never secret (the key itself is only ever stored as a hash).
ALTER TABLE api_keys ADD COLUMN note text NOT NULL DEFAULT '';
