-- Compact rows (issue 15 item 6, SQLite migration 025): a cluster is
-- stored once, in s_clusters, and each indicator holds its integer id,
-- instead of the 40-hex-character cluster in the row and again in every
-- entry of indicators_active_cluster. Readers name the cluster through a
-- subquery on the id; a run gives ids to the clusters it writes, under the
-- write lock (store/clusters.go). Ids are never reused.
CREATE TABLE s_clusters (
    id   integer PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE
);
INSERT INTO s_clusters (id, name)
    SELECT row_number() OVER (ORDER BY name), name
    FROM (SELECT DISTINCT s_cluster AS name FROM indicators WHERE s_cluster IS NOT NULL) AS d;

DROP INDEX indicators_active_cluster;
ALTER TABLE indicators ADD COLUMN s_cluster_id integer;
UPDATE indicators i SET s_cluster_id = c.id FROM s_clusters c WHERE c.name = i.s_cluster;
ALTER TABLE indicators DROP COLUMN s_cluster;
CREATE INDEX indicators_active_cluster ON indicators (s_cluster_id, ip) WHERE status = 'Active' AND s_cluster_id IS NOT NULL;
