-- step: g_new_files
-- kind: table
-- parameters: none
-- Files ingested since the last golden build.
SELECT source_file FROM ingest_ledger EXCEPT SELECT source_file FROM golden_inputs
