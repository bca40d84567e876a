"""How the ingest ledger counts a connector's batch, for the connector tests."""

from __future__ import annotations

from consent_pipeline.canonical import TABLES, Batch


def accounted(batch: Batch) -> dict[str, tuple[int, int, int]]:
    """Per file name: (accepted, skipped, quarantined) records, counted as the ingest ledger does; asserts
    that every record read is exactly one of them. File-level rows (a registry snapshot) are not records."""
    parts: set[tuple[str, int]] = set()
    for name in batch.table_names:
        if TABLES[name].counts_as_part:
            frame = batch.table(name).drop_nulls("source_record")
            parts |= set(frame.select("source_file", "source_record").iter_rows())
    rejected = (
        set(batch.rejects.drop_nulls("source_record").select("source_file", "source_record").iter_rows())
        - parts
    )
    skipped = set(batch.skips.select("source_file", "source_record").iter_rows()) - parts - rejected
    out = {}
    for file, rows_read in batch.files.select("source_file", "rows_read").iter_rows():
        sets = [{n for f, n in s if f == file} for s in (parts, skipped, rejected)]
        assert set().union(*sets) == set(range(1, rows_read + 1)), file
        out[file.rsplit("/", 1)[1]] = tuple(len(s) for s in sets)
    return out
