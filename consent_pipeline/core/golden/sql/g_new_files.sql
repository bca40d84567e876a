-- step: g_new_files
-- kind: table
-- parameters: none
-- Files ingested since the last golden build. A file is known by its ledger row's run: one read again (a
-- connector that failed on it, retried by the next run) is new again, with the rows it brought this time.
SELECT DISTINCT source_file FROM (
    SELECT source_file, run_id FROM ingest_ledger EXCEPT SELECT source_file, run_id FROM golden_inputs
)
