-- Rows that could not become punches (attendance.Reject), from
-- attendance.rejects.v1. reject_id is derived from site, file, line and raw
-- text, so a re-read file yields the same ids and ReplacingMergeTree keeps one.
-- A reject has no event time, so the table is not partitioned by time: a
-- re-delivery months later must still land in the same partition to replace.
CREATE TABLE IF NOT EXISTS {db}.rejects
(
    reject_id    String,
    vendor       LowCardinality(String),
    layout       LowCardinality(String),
    site         LowCardinality(String),
    file         String,
    line         UInt32,
    reason       String,
    raw          String,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (site, file, line, reject_id)
SETTINGS non_replicated_deduplication_window = 10000;
