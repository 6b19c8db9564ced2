-- Sightings (SQLite migration 011): how often an indicator was seen in the
-- owner's own logs, first and last (Unix seconds), and until when the last
-- sighting keeps it Active. expires_at stays the feed's own expiry; an
-- indicator expires when both have passed.
ALTER TABLE indicators ADD COLUMN sightings bigint NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN first_sighted bigint;
ALTER TABLE indicators ADD COLUMN last_sighted bigint;
ALTER TABLE indicators ADD COLUMN sighted_until bigint;
