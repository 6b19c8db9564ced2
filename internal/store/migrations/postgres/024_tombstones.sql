-- An indicator a purge deleted (SQLite migration 031): its key, the
-- generation it had, its created_at and renewed_at, and when it was purged
-- (Unix seconds). Published revoked by TAXII and the stix bundle; an
-- address ingested again starts at generation + 1 and its tombstone goes;
-- the expiry job deletes tombstones older than 30 days.
CREATE TABLE tombstones (
    ip          bytea PRIMARY KEY,
    generation  bigint NOT NULL,
    created_at  bigint NOT NULL,
    renewed_at  bigint,
    purged_at   bigint NOT NULL
);

CREATE INDEX tombstones_purged ON tombstones (purged_at, ip);
