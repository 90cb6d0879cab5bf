-- Which migrations have been applied to this database. history.Migrate creates
-- it first, then records each applied file here (version, name, checksum of
-- the file text); a recorded version is never run again, and a recorded
-- checksum that differs from the file is an error (files are append-only).
CREATE TABLE IF NOT EXISTS {db}.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
