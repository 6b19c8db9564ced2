-- The lead-time report (issue 18) without a join: each membership carries
-- its indicator's Predicted At and predicted category (p_at, p_cat; NULL
-- when the indicator has no Predicted At), so the report's two groupings
-- (per category by each address's earliest listing, per feed by each
-- listing) are one read of the narrow partial index below instead of one
-- probe of indicators_predicted_ip per membership, twice.
--
-- Kept true in the writing transaction:
-- - a list run fills them for the memberships it inserts, set-based, from
--   the indicators (listfeed.go, "write memberships");
-- - the trigger below copies an indicator's prediction onto its
--   memberships when any writer (Seclytics ingest, the Seclytics purge)
--   sets, changes or clears it. It fires only when the prediction
--   changes: a Seclytics run that rewrites an unchanged prediction costs a
--   comparison per row, a list run (which never writes those columns)
--   nothing.
-- An indicator is inserted before any membership names it (a list run adds
-- it first) and never deleted while one does (DeleteFeed keeps it), so
-- inserts and deletes of indicators need no trigger.
ALTER TABLE memberships ADD COLUMN p_at INTEGER;
ALTER TABLE memberships ADD COLUMN p_cat TEXT;
UPDATE memberships SET (p_at, p_cat) = (SELECT i.s_predicted_at, i.s_predicted_category FROM indicators i
    WHERE i.ip = memberships.ip AND i.s_predicted_at IS NOT NULL)
    WHERE ip IN (SELECT ip FROM indicators WHERE s_predicted_at IS NOT NULL);
CREATE INDEX memberships_predicted ON memberships (ip, p_at, p_cat, first_seen, observed_first, feed)
    WHERE p_at IS NOT NULL;

CREATE TRIGGER indicators_prediction_changed AFTER UPDATE OF s_predicted_at, s_predicted_category ON indicators
    WHEN NEW.s_predicted_at IS NOT OLD.s_predicted_at
        OR (NEW.s_predicted_at IS NOT NULL AND NEW.s_predicted_category IS NOT OLD.s_predicted_category)
BEGIN
    UPDATE memberships SET p_at = NEW.s_predicted_at,
        p_cat = CASE WHEN NEW.s_predicted_at IS NULL THEN NULL ELSE NEW.s_predicted_category END
        WHERE ip = NEW.ip;
END;

-- Nothing reads the predictions by address any more (SQLite 020 added it
-- for the join this replaces); a Seclytics run no longer maintains it.
DROP INDEX IF EXISTS indicators_predicted_ip;
