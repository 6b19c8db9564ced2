-- The lead-time report counts predictions per predicted category (SQLite
-- migration 016).
CREATE INDEX indicators_predicted ON indicators (s_predicted_category, s_predicted_at)
    WHERE s_predicted_at IS NOT NULL;
