-- Cluster variant of ../005_files.sql: files_local is a ReplicatedReplacingMergeTree
-- on every shard, files the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(source, path), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.files_local ON CLUSTER '{cluster}'
(
    source       LowCardinality(String),
    path         String,
    size         Int64,
    mtime        DateTime64(3, 'UTC'),
    sha256       String,
    state        LowCardinality(String),
    site         LowCardinality(String),
    vendor       LowCardinality(String),
    layout       LowCardinality(String),
    encoding     LowCardinality(String),
    punches      UInt32,
    rejects      UInt32,
    reason       String,
    at           DateTime64(3, 'UTC'),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/files', '{replica}', at)
ORDER BY (source, path, sha256);

CREATE TABLE IF NOT EXISTS {db}.files ON CLUSTER '{cluster}' AS {db}.files_local
ENGINE = Distributed('{cluster}', '{db}', 'files_local', cityHash64(source, path));
