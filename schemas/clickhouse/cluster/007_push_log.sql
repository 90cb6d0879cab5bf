-- Cluster variant of ../007_push_log.sql: push_log_local is a ReplicatedReplacingMergeTree
-- on every shard, push_log the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(site, employee_no), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.push_log_local ON CLUSTER '{cluster}'
(
    site          LowCardinality(String),
    employee_no   String,
    working_day   Date,
    content_hash  String,
    payload       String,
    outcome       LowCardinality(String),
    http_status   UInt16,
    code          LowCardinality(String),
    message       String,
    attempts      UInt16,
    at            DateTime64(3, 'Asia/Seoul')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/push_log', '{replica}')
PARTITION BY toYYYYMM(working_day)
ORDER BY (site, employee_no, working_day, at, content_hash, outcome);

CREATE TABLE IF NOT EXISTS {db}.push_log ON CLUSTER '{cluster}' AS {db}.push_log_local
ENGINE = Distributed('{cluster}', '{db}', 'push_log_local', cityHash64(site, employee_no));
