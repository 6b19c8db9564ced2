-- (SQLite migration 021.)
-- How many entries each list feed lists now (issue 16): the Integrations
-- page and GET /api/v1/feeds show it for every feed on every view, and
-- counting the feed's listed memberships there read them all. Each list
-- run sets it in its own transaction (the memberships are written nowhere
-- else); existing stores are counted once here.
ALTER TABLE list_feeds ADD COLUMN listed BIGINT NOT NULL DEFAULT 0;
UPDATE list_feeds SET listed = (SELECT COUNT(*) FROM memberships m WHERE m.feed = list_feeds.feed AND m.listed = 1);
