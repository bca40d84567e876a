"""One asset per source feed: read its new deliveries into a validated canonical batch, staged for the
event log. Its check shows what was quarantined, by reason, with a preview."""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from consent_pipeline.canonical import TABLES
from consent_pipeline.core.ingest.ingest import SETTLED_FILE_REASONS, read_source
from consent_pipeline.core.ingest.landing import Known
from consent_pipeline.core.ingest.staging import write_batch
from consent_pipeline.defs.metadata import md_table
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import faults, progress
from source_connectors import SOURCES

GROUP = "sources"


def source_key(source: str) -> AssetKey:
    return AssetKey(["source", source])


def _known_files(pipeline: PipelineResource, source: str) -> dict[str, Known]:
    """What the ledger knows of the source's files (the latest row of each), and the files settled by a
    file-level quarantine row without a ledger row (a badly named delivery folder)."""
    db = pipeline.db
    if not db.exists():
        return {}
    with db.connect(read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "ingest_ledger" not in tables:
            return {}
        cols = {r[0] for r in con.execute("DESCRIBE ingest_ledger").fetchall()}
        hashes = (
            "file_status, file_sha256, file_bytes, file_mtime_ns"
            if "file_sha256" in cols
            else "'read', NULL, NULL, NULL"
        )
        rows = con.execute(
            f"""
            SELECT source_file, {hashes} FROM ingest_ledger WHERE source = $source
            QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY ingested_at DESC) = 1
            """,
            {"source": source},
        ).fetchall()
        known = {r[0]: Known(r[1] or "read", r[2], r[3], r[4]) for r in rows}
        for (f,) in con.execute(
            "SELECT DISTINCT source_file FROM quarantine WHERE source = $source AND source_record IS NULL"
            " AND list_contains($reasons, reason)",
            {"source": source, "reasons": list(SETTLED_FILE_REASONS)},
        ).fetchall():
            known.setdefault(f, Known("read", None, None, None))
        return known


def build_source_asset(source: str) -> AssetsDefinition:
    check_name = "quarantine"

    @asset(
        key=source_key(source),
        group_name=GROUP,
        description=f"New deliveries of the `{source}` feed, read into canonical events and facts (spec: feeds.md).",
        check_specs=[
            AssetCheckSpec(
                check_name,
                asset=source_key(source),
                description="Records quarantined this run, by reason, with a preview (file, record number, "
                "reason, SHA-256 of the raw text: no personal data).",
            )
        ],
        kinds={"polars"},
    )
    def _asset(context: AssetExecutionContext, pipeline: PipelineResource) -> MaterializeResult:
        pipeline.begin(context)
        settings = pipeline.settings
        progress.report(f"reading {source}")
        batch = read_source(
            source,
            settings.landing,
            pipeline.company_rules,
            _known_files(pipeline, source),
            settings.parse_threads,
            settings.as_of,
            pipeline.engine_in_use,
        )
        write_batch(batch, settings.staging)
        faults.pause(f"staged:{source}")
        files = batch.files
        rejects = batch.rejects
        rows_read = int(files["rows_read"].sum()) if files.height else 0
        by_reason = rejects.group_by("reason").agg(pl.len().alias("rows")).sort("rows", descending=True)
        # As the ledger counts them: records with a rejected part and no accepted one (a record good in
        # part is accepted; its rejected parts are still listed in quarantine).
        keys = ["source_file", "source_record"]
        accepted = [
            batch.table(name).select(keys)
            for name in batch.table_names
            if TABLES[name].counts_as_part and batch.table(name).height
        ]
        quarantined_records = (
            rejects.filter(pl.col("source_record").is_not_null())
            .select(keys)
            .unique()
            .join(pl.concat(accepted).unique() if accepted else rejects.select(keys).head(0), on=keys, how="anti")
            .height
        )
        share = quarantined_records / rows_read if rows_read else 0.0
        limit = pipeline.company_rules.policies.data_quality.max_quarantined_share
        staged = {name: batch.table(name).height for name in batch.table_names}
        context.log.info(f"{source}: {files.height} files, {rows_read} records, {rejects.height} quarantine rows")
        check = AssetCheckResult(
            check_name=check_name,
            passed=share <= limit,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "quarantine_rows": rejects.height,
                "records_with_problems": quarantined_records,
                "share_of_records": MetadataValue.float(round(share, 4)),
                "limit": MetadataValue.float(limit),
                "by_reason": md_table(by_reason),
                # record numbers and reasons; the raw text only as its SHA-256 (defs/metadata.py)
                "preview": md_table(
                    rejects.select("source_file", "source_record", "reason", pl.col("raw").alias("raw_sha256"))
                ),
            },
        )
        return MaterializeResult(
            metadata={
                "deliveries": files["delivery"].n_unique() if files.height else 0,
                "files": files.height,
                "records_read": rows_read,
                "staged_rows": MetadataValue.json(staged),
                "files_read": md_table(files.select("source_file", "rows_read")),
            },
            check_results=[check],
        )

    return _asset


source_assets = [build_source_asset(s) for s in SOURCES]
