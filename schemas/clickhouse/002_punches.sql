-- One row per punch event (attendance.Punch), from attendance.punches.v1.
--
-- Exactly once in effect: the history writer delivers at least once, each
-- insert carries an insert_deduplication_token (topic/partition/offsets), and
-- ReplacingMergeTree collapses any remaining copies of an event_id at merge
-- time; read with FINAL for exact counts.
--
-- Replacement is correct because every row of one event_id shares the whole
-- sort key: event_id is derived from site, employee number and the instant
-- (attendance.EventID), so site, employee_no and toDate(occurred_at) are equal
-- for equal event_ids, and the partition toYYYYMM(occurred_at) is too.
--
-- occurred_at is DateTime('Asia/Seoul'): ClickHouse stores the UTC instant; the
-- zone only decides how dates and hours are computed and shown (toDate,
-- toHour, the per-day sort key). Asia/Seoul is the sites' zone; a site in
-- another zone still stores the correct instant, only its calendar-day
-- grouping here is the Seoul day.
CREATE TABLE IF NOT EXISTS {db}.punches
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site, employee_no, toDate(occurred_at), event_id)
SETTINGS non_replicated_deduplication_window = 10000;
