-- An indicator a purge deleted (DeleteFeed with purge): its key (as
-- indicators.ip), the generation it had, its created_at and renewed_at
-- (which its STIX objects carry), and when it was purged (Unix seconds).
-- TAXII and the stix bundle publish it revoked, modified at purged_at, so
-- that a consumer polling with added_after learns of the removal; an
-- address ingested again starts at generation + 1, under a new STIX id,
-- and its tombstone goes (in the same transaction, one statement for the
-- whole run: no per-row work in the ingest). The expiry job deletes
-- tombstones older than 30 days.
CREATE TABLE tombstones (
    ip          BLOB PRIMARY KEY,
    generation  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    renewed_at  INTEGER,
    purged_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- TAXII's pages of tombstones (purged_at, then key) and the 30-day sweep.
CREATE INDEX tombstones_purged ON tombstones (purged_at, ip);
