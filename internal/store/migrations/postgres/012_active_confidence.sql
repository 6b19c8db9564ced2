-- The confidence rank of output profiles (SQLite's 017; see it).
CREATE INDEX indicators_active_confidence ON indicators ((COALESCE(confidence, -1)), ip) WHERE status = 'Active';
