-- The lead-time report without a join (SQLite migration 024): each
-- membership carries its indicator's Predicted At and predicted category,
-- kept true by the list run that inserts it and by the trigger below
-- whenever an indicator's prediction is set, changed or cleared.
ALTER TABLE memberships ADD COLUMN p_at bigint, ADD COLUMN p_cat text;
UPDATE memberships m SET p_at = i.s_predicted_at, p_cat = i.s_predicted_category
    FROM indicators i WHERE i.ip = m.ip AND i.s_predicted_at IS NOT NULL;
CREATE INDEX memberships_predicted ON memberships (ip) INCLUDE (p_at, p_cat, first_seen, observed_first, feed)
    WHERE p_at IS NOT NULL;

CREATE FUNCTION forewarn_membership_predictions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memberships SET p_at = NEW.s_predicted_at,
        p_cat = CASE WHEN NEW.s_predicted_at IS NULL THEN NULL ELSE NEW.s_predicted_category END
        WHERE ip = NEW.ip;
    RETURN NEW;
END
$$;
CREATE TRIGGER indicators_prediction_changed AFTER UPDATE OF s_predicted_at, s_predicted_category ON indicators
    FOR EACH ROW WHEN (NEW.s_predicted_at IS DISTINCT FROM OLD.s_predicted_at
        OR (NEW.s_predicted_at IS NOT NULL AND NEW.s_predicted_category IS DISTINCT FROM OLD.s_predicted_category))
    EXECUTE FUNCTION forewarn_membership_predictions();

-- Nothing reads the predictions by address any more (015 added it for the
-- join this replaces); a Seclytics run no longer maintains it.
DROP INDEX IF EXISTS indicators_predicted_ip;
