-- The lead-time report (issue 18) counts predictions per predicted
-- category: this narrow partial index spares it a scan of every indicator's
-- wide row (measured at 5M: docs/performance.md). Only predictions are in
-- it, so indicators without a Predicted At (list feeds' own) cost nothing.
CREATE INDEX indicators_predicted ON indicators (s_predicted_category, s_predicted_at)
    WHERE s_predicted_at IS NOT NULL;
