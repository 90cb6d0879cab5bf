-- Cluster variant of ../001_schema_migrations.sql. The ZooKeeper path has no
-- {shard}: every node of the cluster is a replica of this one small table, so
-- whichever node history.MigrateCluster talks to sees every applied version.
CREATE TABLE IF NOT EXISTS {db}.schema_migrations ON CLUSTER '{cluster}'
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{replica}', applied_at)
ORDER BY version;
