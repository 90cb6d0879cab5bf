-- As 010_source_file_lowcard.sql on a single node; the Distributed table
-- takes the local table's new type too.
ALTER TABLE {db}.punches_local ON CLUSTER '{cluster}' MODIFY COLUMN source_file LowCardinality(String);
ALTER TABLE {db}.punches ON CLUSTER '{cluster}' MODIFY COLUMN source_file LowCardinality(String);
