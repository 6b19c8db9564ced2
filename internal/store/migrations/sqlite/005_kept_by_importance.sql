-- Kept rows per normalized importance (issue 6), so that a dry run shows
-- what it would ingest at each level. Runs recorded before this migration
-- read as zero.
ALTER TABLE runs ADD COLUMN kept_high INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN kept_medium INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN kept_low INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN kept_none INTEGER NOT NULL DEFAULT 0;
