-- Fewer rewrites by background merges for the two tables that get one row
-- per punch. ClickHouse's default merge_selector_base (5) merges a range of
-- parts as soon as it is about five times its largest part; at 10 it waits
-- for about twice as many parts of a level and merges them at once. Measured
-- on the 10 M-punch backfill (docs/benchmarks.md): the merges rewrote 1.79
-- rows per punch with the default and 0.98 at 10, and merges were about half
-- of the engine's CPU. The price is more active parts per partition while
-- data arrives (about 10 per level instead of 5); the selector lowers the
-- base for parts that stop growing, so a quiet table still merges down.
-- Reads are unchanged: FINAL and the reports do not depend on part counts.
ALTER TABLE {db}.punches MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {db}.matched_punches MODIFY SETTING merge_selector_base = 10;
