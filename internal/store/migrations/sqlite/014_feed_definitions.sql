-- Custom feed definitions (issue 16 §5): the YAML a person added with
-- forewarn feed add or POST /api/v1/feeds, stored so that every instance
-- sharing the store sees them. Built-in definitions are embedded in the
-- binary and never stored here.
CREATE TABLE feed_definitions (
    id         TEXT PRIMARY KEY,
    source     TEXT NOT NULL,              -- the definition as given (YAML)
    added_by   TEXT NOT NULL,
    added_at   INTEGER NOT NULL            -- Unix seconds
);
