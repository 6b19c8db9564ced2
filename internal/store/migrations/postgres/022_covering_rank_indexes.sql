-- The rank indexes of output profiles' budgets carry the walk's other
-- columns, so the walk can be an index-only scan (SQLite's 027; see it).
DROP INDEX indicators_active_importance;
CREATE INDEX indicators_active_importance ON indicators ((COALESCE(s_importance, -1)), ip) INCLUDE (expires_at, s_importance) WHERE status = 'Active';
DROP INDEX indicators_active_confidence;
CREATE INDEX indicators_active_confidence ON indicators ((COALESCE(confidence, -1)), ip) INCLUDE (expires_at, confidence) WHERE status = 'Active';
