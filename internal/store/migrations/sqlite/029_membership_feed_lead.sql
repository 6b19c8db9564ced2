-- The lead-time report's grouping per feed (issue 18) walked the whole
-- memberships table (its wide rows: attributes and all) and sorted every
-- predicted membership by (feed, lead days) in a temporary B-tree: 0.84 s
-- of the 2 s the report may take at 5M predictions and 1M memberships.
--
-- This index holds the predicted memberships in that group order: the
-- feed, then the lead days expression exactly as byFeedSQL writes it
-- (leadDaysSQL of the confirmation after p_at; SQLite matches an indexed
-- expression by its tree, so the two must stay the same), then the
-- columns the expression reads, which make it a covering index. The
-- grouping is then one read of a narrow index with no sort (0.13 s), and
-- --feed reads one feed's range of it. TestLeadTimesReadNarrowIndexes
-- checks the plan.
--
-- A list run pays for it only where the columns change: an inserted
-- predicted membership, a changed First Seen, or a prediction that the
-- trigger of 024 copies.
CREATE INDEX memberships_feed_lead ON memberships (feed,
    (CASE WHEN COALESCE(first_seen, observed_first) >= p_at THEN (COALESCE(first_seen, observed_first) - p_at) / 86400
        ELSE -((p_at - COALESCE(first_seen, observed_first) + 86399) / 86400) END),
    p_at, first_seen, observed_first)
    WHERE p_at IS NOT NULL;
