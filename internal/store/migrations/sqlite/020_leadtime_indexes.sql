-- The lead-time report (issue 18) at a million list memberships: it joined
-- each membership to its indicator's wide row, twice (31.7 s at 5M
-- indicators and 1M memberships). Two narrow covering indexes make both
-- sides index-only, each read in address order:
--
-- memberships_ip now carries each listing's dates, so the earliest listing
-- of an address (by any feed or by one) is read from the index alone. It
-- still serves every read by address, as before; the dates of an entry
-- rarely change, so a list run rewrites no more of it than before.
DROP INDEX IF EXISTS memberships_ip;
CREATE INDEX memberships_ip ON memberships (ip, first_seen, observed_first);

-- The predictions by address: a prediction's Predicted At and category
-- without its wide row. Only predictions are in it.
CREATE INDEX indicators_predicted_ip ON indicators (ip, s_predicted_at, s_predicted_category)
    WHERE s_predicted_at IS NOT NULL;

-- The predictions that name a netblock, by netblock: the report counts
-- apart a netblock confirmed by a listing of another address in it.
CREATE INDEX indicators_predicted_netblock ON indicators (s_lookup_netblock, ip, s_predicted_at, s_predicted_category)
    WHERE s_predicted_at IS NOT NULL AND s_lookup_netblock IS NOT NULL;
