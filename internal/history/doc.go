// Package history keeps the attendance history in ClickHouse.
//
// It owns the schema (Migrate applies the numbered files of
// schemas/clickhouse, recorded in schema_migrations, idempotently), the
// connection settings (ClickHouseConfig, the `clickhouse:` config section),
// the Kafka-to-ClickHouse writer and the store the pusher uses.
//
// Guarantee of the Writer: every punch, reject, unmatched and file event is in
// the history exactly once in effect: at-least-once delivery (Kafka offsets
// are committed only after the batch's insert succeeded) +
// insert_deduplication_token (topic/partition/first-last offset, so a retried
// or re-delivered identical batch adds no rows) + ReplacingMergeTree on the
// event's id (any other duplicate collapses; read with FINAL for exact
// answers).
//
// Every statement names its database explicitly; tables never live in
// `default`.
package history
