-- Sightings (issue 18): how often an indicator was seen in the owner's own
-- logs (forewarn match --record, POST /api/v1/sightings), first and last
-- (Unix seconds), and until when the last sighting keeps it Active
-- (last_sighted + the feed's sighting_extends). expires_at stays the
-- feed's own expiry; an indicator expires when both have passed.
ALTER TABLE indicators ADD COLUMN sightings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN first_sighted INTEGER;
ALTER TABLE indicators ADD COLUMN last_sighted INTEGER;
ALTER TABLE indicators ADD COLUMN sighted_until INTEGER;
