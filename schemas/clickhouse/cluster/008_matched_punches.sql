-- Cluster variant of ../008_matched_punches.sql, sharded by the Daou employee
-- number so one person's punches (and FINAL) stay on one shard.
CREATE TABLE IF NOT EXISTS {db}.matched_punches_local ON CLUSTER '{cluster}'
(
    event_id            String,
    site                LowCardinality(String),
    employee_no         String,
    vendor_employee_no  String,
    occurred_at         DateTime('Asia/Seoul'),
    mode                LowCardinality(String),
    raw_mode            String,
    device              LowCardinality(String),
    auth_ok             Bool,
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/matched_punches', '{replica}', ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (employee_no, toDate(occurred_at), event_id);

CREATE TABLE IF NOT EXISTS {db}.matched_punches ON CLUSTER '{cluster}' AS {db}.matched_punches_local
ENGINE = Distributed('{cluster}', '{db}', 'matched_punches_local', cityHash64(employee_no));
