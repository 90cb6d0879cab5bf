-- What the ingest did with each drop (attendance.FileRecord), from
-- attendance.files.v1: one current row per (source, path, sha256), the newest
-- state by `at` (a quarantined file later ingested shows as done).
CREATE TABLE IF NOT EXISTS {db}.files
(
    source       LowCardinality(String),
    path         String,
    size         Int64,
    mtime        DateTime64(3, 'UTC'),
    sha256       String,
    state        LowCardinality(String),
    site         LowCardinality(String),
    vendor       LowCardinality(String),
    layout       LowCardinality(String),
    encoding     LowCardinality(String),
    punches      UInt32,
    rejects      UInt32,
    reason       String,
    at           DateTime64(3, 'UTC'),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (source, path, sha256)
SETTINGS non_replicated_deduplication_window = 10000;
