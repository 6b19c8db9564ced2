-- Many sources per indicator (SQLite migration 009; see it for what each
-- table and column means, and for the 17-byte keys of networks).
CREATE TABLE list_feeds (
    feed        text COLLATE "C" PRIMARY KEY,
    source      text COLLATE "C" NOT NULL,
    mode        text COLLATE "C" NOT NULL,
    confidence  bigint NOT NULL,
    age_out     bigint,
    last_run_at bigint,
    etag          text COLLATE "C",
    last_modified text COLLATE "C",
    body_sha256   text COLLATE "C"
);

CREATE TABLE memberships (
    feed           text COLLATE "C" NOT NULL,
    ip             bytea NOT NULL,
    listed         bigint NOT NULL,
    first_seen     bigint,
    last_seen      bigint,
    observed_first bigint NOT NULL,
    observed_last  bigint NOT NULL,
    delisted_at    bigint,
    attrs          bytea,
    hash           bigint NOT NULL,
    PRIMARY KEY (feed, ip)
);
CREATE INDEX memberships_ip ON memberships (ip);
CREATE INDEX indicators_networks ON indicators (ip) WHERE length(ip) = 17;

ALTER TABLE indicators ADD COLUMN listings bigint NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN l_miss double precision;
ALTER TABLE indicators ADD COLUMN s_listed bigint NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN confidence bigint;
ALTER TABLE indicators ADD COLUMN l_feeds text COLLATE "C";
ALTER TABLE indicators ADD COLUMN l_sources text COLLATE "C";

ALTER TABLE runs ADD COLUMN indicators_delisted bigint NOT NULL DEFAULT 0;

UPDATE indicators SET s_listed = 1, confidence = 80 WHERE status <> 'Expired';
