-- Compact rows (issue 15 item 6): a cluster is stored once, in s_clusters,
-- and each indicator holds its small integer id. The 40-hex-character
-- cluster repeated in about 27 indicators each (33,108 distinct values at
-- 1M rows), and again in every entry of indicators_active_cluster: 40 bytes
-- a row and about 62 an index entry, against one to three bytes of id.
-- Readers name the cluster through a subquery on the id (store.clusterName);
-- a run gives ids to the clusters it writes (store/clusters.go). An id is
-- never reused, and a name no indicator holds any longer is kept: there are
-- few, and the next run that writes it again finds its id.
CREATE TABLE s_clusters (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO s_clusters (name)
    SELECT DISTINCT s_cluster FROM indicators WHERE s_cluster IS NOT NULL ORDER BY s_cluster;

DROP INDEX indicators_active_cluster;
ALTER TABLE indicators ADD COLUMN s_cluster_id INTEGER;
UPDATE indicators SET s_cluster_id = (SELECT id FROM s_clusters WHERE name = indicators.s_cluster)
    WHERE s_cluster IS NOT NULL;
ALTER TABLE indicators DROP COLUMN s_cluster;
CREATE INDEX indicators_active_cluster ON indicators (s_cluster_id) WHERE status = 'Active' AND s_cluster_id IS NOT NULL;
