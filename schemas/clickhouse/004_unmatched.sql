-- Punches whose person could not be resolved to exactly one groupware account
-- (attendance.Unmatched), from attendance.unmatched.v1. One row per event_id;
-- a later re-match of the same event replaces the earlier row (newest
-- ingested_at wins). `pusher report unmatched` counts them per person.
CREATE TABLE IF NOT EXISTS {db}.unmatched
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
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site, employee_no, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
