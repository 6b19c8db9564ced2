-- The audit log: who performed which operation (configure, enable,
-- uninstall, status, allow-list, keys, runs), written by package service.
-- key_id is the API key's id, 0 for the command line.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,                -- Unix seconds
    key_id INTEGER NOT NULL DEFAULT 0,
    actor  TEXT NOT NULL,                   -- the key's name, or cli
    via    TEXT NOT NULL DEFAULT '',        -- api, ui or cli
    action TEXT NOT NULL,                   -- e.g. feed.uninstall
    target TEXT NOT NULL DEFAULT '',        -- the feed, address, range, key or run
    detail TEXT NOT NULL DEFAULT ''
);
