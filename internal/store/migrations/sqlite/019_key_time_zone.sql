-- Each API key's time zone for the web UI (SQLite migration 019): ''
-- is UTC, the default; otherwise an IANA name such as Europe/Paris, the
-- browser's zone when its person chose local time. Per key, so that a
-- person sees times their way in every browser they sign in from.
ALTER TABLE api_keys ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
