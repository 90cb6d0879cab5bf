-- Cluster variant of ../004_unmatched.sql: unmatched_local is a ReplicatedReplacingMergeTree
-- on every shard, unmatched the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(site, employee_no), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.unmatched_local ON CLUSTER '{cluster}'
(
    event_id     String,
    site         LowCardinality(String),
    vendor       LowCardinality(String),
    employee_no  String,
    name         String,
    card_masked  String,
    occurred_at  DateTime('Asia/Seoul'),
    outcome      LowCardinality(String),
    candidates   Array(String),
    reason       String,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/unmatched', '{replica}', ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site, employee_no, event_id);

CREATE TABLE IF NOT EXISTS {db}.unmatched ON CLUSTER '{cluster}' AS {db}.unmatched_local
ENGINE = Distributed('{cluster}', '{db}', 'unmatched_local', cityHash64(site, employee_no));
