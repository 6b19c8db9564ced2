-- Pages that stay as fast at millions of indicators as at a thousand
-- (issue 6).

-- Counts kept exact by the transactions that change them, so that a page
-- reads a number instead of counting millions of rows: "indicators" moves
-- with every run's commit (the indicators it created) and every purge.
CREATE TABLE store_counts (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO store_counts (name, n) SELECT 'indicators', COUNT(*) FROM indicators;

-- The dashboard's aggregates, as last computed, with the DataVersion they
-- were computed at: a restarted server shows them at once, and recomputes
-- in the background when the data moved since.
CREATE TABLE dashboard_snapshot (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_update INTEGER NOT NULL,   -- the DataVersion: Unix seconds
    count       INTEGER NOT NULL,   -- and indicators
    body        TEXT NOT NULL       -- store.Dashboard as JSON
);

-- Active indicators by importance, and by cluster: the search sorted by
-- importance, and a detail page's "same cluster" list, read these instead
-- of the whole table. Both are partial: Active is the working set, and most
-- of a dump that goes back years arrives Expired, so the entries cost
-- little to keep. Measured at 1M rows, keep-everything ingest with the
-- default age_out (18% Active), alternating runs: +1-4% for the importance
-- index and +3-6% for the cluster index; the same importance index over every
-- status cost +20%, one over every cluster +23%. With age_out "never"
-- every indicator stays Active and both cost their full price (see
-- docs/performance.md).
CREATE INDEX indicators_active_importance ON indicators (COALESCE(s_importance, -1)) WHERE status = 'Active';
CREATE INDEX indicators_active_cluster ON indicators (s_cluster) WHERE status = 'Active' AND s_cluster IS NOT NULL;
