"""The ingest stage's invariants (the event log, the ledger, quarantine)."""

from __future__ import annotations

from consent_pipeline.core.lib.invariant import Invariant

INGEST = [
    Invariant(
        "ledger_balances",
        "ingest_ledger",
        "per file, rows_read = accepted + skipped + duplicate + quarantined",
        """
        SELECT source, delivery, source_file, rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined
        FROM ingest_ledger
        WHERE rows_read <> rows_accepted + rows_skipped + rows_duplicate + rows_quarantined
        """,
        blocking=True,
    ),
    Invariant(
        "file_ingested_once",
        "ingest_ledger",
        "a file has one ledger row for each version of its bytes: it is read only once",
        "SELECT source_file, file_sha256, count(*) AS ledger_rows FROM ingest_ledger"
        " GROUP BY source_file, file_sha256 HAVING count(*) > 1",
    ),
    Invariant(
        "landing_held_back",
        "ingest_ledger",
        "what the latest run found in the landing tree and held back or read with a caveat: files quarantined "
        "whole, unexpected files, links and non-files, deliveries dated after the as-of, changed or late files",
        "SELECT source, delivery, source_file, reason, detail FROM landing_report ORDER BY source_file, reason",
        severity="WARN",
    ),
    Invariant(
        "event_ids_unique",
        "consent_events",
        "the event log holds each event once",
        "SELECT event_id, count(*) AS copies FROM event_log GROUP BY event_id HAVING count(*) > 1",
    ),
    Invariant(
        "quarantine_has_reason_and_raw",
        "quarantine",
        "every quarantined record keeps a reason and its raw text",
        "SELECT source_file, source_record, reason FROM quarantine WHERE reason IS NULL OR raw IS NULL",
    ),
]
