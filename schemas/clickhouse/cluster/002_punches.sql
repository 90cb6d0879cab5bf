-- Cluster variant of ../002_punches.sql: punches_local is a ReplicatedReplacingMergeTree
-- on every shard, punches the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(site, employee_no), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.punches_local ON CLUSTER '{cluster}'
(
    event_id     String,
    vendor       LowCardinality(String),
    layout       LowCardinality(String),
    site         LowCardinality(String),
    occurred_at  DateTime('Asia/Seoul'),
    employee_no  String,
    name         String,
    card_masked  String,
    card_hash    String,
    mode         LowCardinality(String),
    raw_mode     String,
    device       LowCardinality(String),
    auth_ok      Bool,
    source_file  String,
    source_line  UInt32,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/punches', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site, employee_no, toDate(occurred_at), event_id);

CREATE TABLE IF NOT EXISTS {db}.punches ON CLUSTER '{cluster}' AS {db}.punches_local
ENGINE = Distributed('{cluster}', '{db}', 'punches_local', cityHash64(site, employee_no));
