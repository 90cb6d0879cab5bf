-- One current row per person and working day (attendance.DailyRecord), written
-- by the pusher each time it derives a day. version grows with each
-- derivation; ReplacingMergeTree(version) keeps the highest, so read with
-- FINAL. content_hash is the hash of what was (or would be) pushed.
CREATE TABLE IF NOT EXISTS {db}.daily_attendance
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(working_day)
ORDER BY (site, employee_no, working_day)
SETTINGS non_replicated_deduplication_window = 10000;
