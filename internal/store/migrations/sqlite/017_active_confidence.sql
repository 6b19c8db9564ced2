-- An output profile's budget ranked by confidence (forewarn output add
-- --rank confidence) reads the Active indicators highest combined
-- confidence first, ties by address, the higher first, through this index,
-- as the importance rank reads indicators_active_importance: a budget of N
-- reads about N entries, not the store. Partial, like that one, so only
-- the Active working set pays for it on ingest (measured at 1M list entries
-- in docs/performance.md).
CREATE INDEX indicators_active_confidence ON indicators (COALESCE(confidence, -1)) WHERE status = 'Active';
