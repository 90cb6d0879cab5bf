-- Every call to the groupware and its outcome (attendance.PushResult). A log:
-- rows are never replaced by newer pushes; the sort key holds the call time and
-- outcome, so only a retried insert of the very same result collapses.
CREATE TABLE IF NOT EXISTS {db}.push_log
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(working_day)
ORDER BY (site, employee_no, working_day, at, content_hash, outcome)
SETTINGS non_replicated_deduplication_window = 10000;
