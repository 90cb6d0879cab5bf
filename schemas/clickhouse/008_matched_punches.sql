-- One row per punch resolved to exactly one groupware account, written by the
-- pusher before it derives days. The pusher recomputes every affected working
-- day from this table (all punches of the employees in a window), so any
-- number of pushers can share the partitions and a re-delivered batch changes
-- nothing.
--
-- employee_no is the Daou employee number (the push key); vendor_employee_no
-- is the number as the terminal wrote it. Re-delivered punches collapse on
-- the sort key (employee_no, day, event_id) under FINAL. A punch re-matched to
-- another account after a directory fix keeps its old row too; fix matches
-- before the days are pushed, or delete the old rows by event_id.
-- Times as in punches: the UTC instant, Seoul calendar.
CREATE TABLE IF NOT EXISTS {db}.matched_punches
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
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (employee_no, toDate(occurred_at), event_id)
SETTINGS non_replicated_deduplication_window = 10000;
