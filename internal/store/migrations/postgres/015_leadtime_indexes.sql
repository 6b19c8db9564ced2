-- The lead-time report at a million list memberships (SQLite migration
-- 020): covering indexes so that both sides of its joins are read from
-- narrow indexes in address order, not from the indicators' wide rows.
DROP INDEX IF EXISTS memberships_ip;
CREATE INDEX memberships_ip ON memberships (ip) INCLUDE (feed, first_seen, observed_first);
CREATE INDEX indicators_predicted_ip ON indicators (ip) INCLUDE (s_predicted_at, s_predicted_category)
    WHERE s_predicted_at IS NOT NULL;
CREATE INDEX indicators_predicted_netblock ON indicators (s_lookup_netblock, ip) INCLUDE (s_predicted_at, s_predicted_category)
    WHERE s_predicted_at IS NOT NULL AND s_lookup_netblock IS NOT NULL;
