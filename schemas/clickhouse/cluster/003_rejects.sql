-- Cluster variant of ../003_rejects.sql: rejects_local is a ReplicatedReplacingMergeTree
-- on every shard, rejects the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(reject_id), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.rejects_local ON CLUSTER '{cluster}'
(
    reject_id    String,
    vendor       LowCardinality(String),
    layout       LowCardinality(String),
    site         LowCardinality(String),
    file         String,
    line         UInt32,
    reason       String,
    raw          String,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/rejects', '{replica}')
ORDER BY (site, file, line, reject_id);

CREATE TABLE IF NOT EXISTS {db}.rejects ON CLUSTER '{cluster}' AS {db}.rejects_local
ENGINE = Distributed('{cluster}', '{db}', 'rejects_local', cityHash64(reject_id));
