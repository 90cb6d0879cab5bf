-- Cluster variant of ../006_daily_attendance.sql: daily_attendance_local is a ReplicatedReplacingMergeTree
-- on every shard, daily_attendance the Distributed table that all reads and writes use
-- (the same SQL as on a single node). Rows are sharded by cityHash64(site, employee_no), so
-- every copy of one key lands on one shard and FINAL / replacement stay correct.
CREATE TABLE IF NOT EXISTS {db}.daily_attendance_local ON CLUSTER '{cluster}'
(
    site          LowCardinality(String),
    employee_no   String,
    working_day   Date,
    clock_in      Nullable(DateTime('Asia/Seoul')),
    clock_out     Nullable(DateTime('Asia/Seoul')),
    flags         Array(LowCardinality(String)),
    content_hash  String,
    version       UInt64,
    updated_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/daily_attendance', '{replica}', version)
PARTITION BY toYYYYMM(working_day)
ORDER BY (site, employee_no, working_day);

CREATE TABLE IF NOT EXISTS {db}.daily_attendance ON CLUSTER '{cluster}' AS {db}.daily_attendance_local
ENGINE = Distributed('{cluster}', '{db}', 'daily_attendance_local', cityHash64(site, employee_no));
