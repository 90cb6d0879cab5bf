-- source_file as LowCardinality(String): a drop's hundreds or thousands of
-- punches all carry the same path, which was the widest column of punches
-- (about 70 of the 240 bytes of a row before compression) and was rewritten
-- by every background merge. As a dictionary per part plus a small index per
-- row, inserts and merges move a fraction of those bytes (docs/benchmarks.md,
-- session 8). Reads and the column's values are unchanged. On a table that
-- already holds data this is a mutation: the column of every existing part
-- is rewritten once, in the background.
ALTER TABLE {db}.punches MODIFY COLUMN source_file LowCardinality(String);
