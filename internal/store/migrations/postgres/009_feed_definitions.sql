-- Custom feed definitions (SQLite's 014): the YAML a person added with
-- forewarn feed add or POST /api/v1/feeds, shared by every instance.
CREATE TABLE feed_definitions (
    id         text COLLATE "C" PRIMARY KEY,
    source     text NOT NULL,
    added_by   text NOT NULL,
    added_at   bigint NOT NULL
);
