-- As 009_merge_selector.sql on a single node: fewer merge rewrites for the
-- two tables fed one row per punch. On a cluster the Distributed table splits
-- every insert by shard, so parts start even smaller there.
ALTER TABLE {db}.punches_local ON CLUSTER '{cluster}' MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {db}.matched_punches_local ON CLUSTER '{cluster}' MODIFY SETTING merge_selector_base = 10;
