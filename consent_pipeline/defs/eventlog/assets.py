"""The event log: every staged batch appended in one transaction, deduplicated, with quarantine and the
ingest ledger. Its checks are the ingest invariants (core/ingest/invariants.py INGEST)."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from consent_pipeline.canonical import TABLES
from consent_pipeline.core.ingest.eventlog import ingest_staged
from consent_pipeline.core.ingest.staging import clear
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.metadata import table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.defs.sources.assets import source_key
from consent_pipeline.lib import faults
from consent_pipeline.warehouse.schema import WAREHOUSE_NAME
from source_connectors import SOURCES

GROUP = "event_log"
FACT_TABLES = [WAREHOUSE_NAME[n] for n in TABLES if n != "events"]
OUTPUTS = ["consent_events", "quarantine", "ingest_ledger", *FACT_TABLES]
_DESCRIPTIONS = {
    "consent_events": "Append-only log of canonical consent events (event_log), deduplicated by event id.",
    "quarantine": "Every record or part that could not be read or validated, with its raw text and reason.",
    "ingest_ledger": "One row per file read: rows_read = accepted + skipped + duplicate + quarantined.",
}


@multi_asset(
    specs=[
        AssetSpec(
            name,
            group_name=GROUP,
            description=_DESCRIPTIONS.get(name, f"Facts from the feeds: `{name}`."),
            deps=[source_key(s) for s in SOURCES],
            kinds={"duckdb"},
        )
        for name in OUTPUTS
    ],
    can_subset=False,
)
def event_log(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    settings = pipeline.settings
    with pipeline.db.connect() as con:
        summary = ingest_staged(con, settings.staging, context.run.run_id, settings.as_of)
        faults.pause("eventlog:ingested")
        clear(settings.staging)
        metadata = {name: table_metadata(con, "event_log" if name == "consent_events" else name) for name in OUTPUTS}
        run_id = context.run.run_id
        # Plotted night by night in the UI: records quarantined by reason, opt-outs that arrived, and what the
        # landing tree held back.
        by_reason = con.execute(
            "SELECT reason, count(*) FROM quarantine WHERE run_id = ? GROUP BY reason ORDER BY reason", [run_id]
        ).fetchall()
        opt_outs = con.execute(
            "SELECT count(*) FROM event_log WHERE status = 'opt_out' AND source_file IN "
            "(SELECT source_file FROM ingest_ledger WHERE run_id = ?)",
            [run_id],
        ).fetchall()[0][0]
        held, files, deliveries, noted = con.execute(
            "SELECT count(*), count(*) FILTER (reason NOT IN ('dated_after_as_of', 'file_changed', 'late_file')),"
            " count(*) FILTER (reason = 'dated_after_as_of'),"
            " count(*) FILTER (reason IN ('file_changed', 'late_file')) FROM landing_report"
        ).fetchall()[0]
    context.log.info(f"ingested {summary}")
    for name in OUTPUTS:
        meta: dict[str, MetadataValue | int | float | str] = {
            **metadata[name],
            "new_rows": summary.new_rows.get("event_log" if name == "consent_events" else name, 0),
        }
        if name == "ingest_ledger":
            meta |= {
                "files_this_run": summary.files,
                "rows_read": summary.rows_read,
                "accepted": summary.accepted,
                "skipped": summary.skipped,
                "duplicate": summary.duplicate,
                "quarantined": summary.quarantined,
                "landing_held_back": int(held),
                "files_quarantined_whole": int(files),
                "deliveries_held": int(deliveries),
                "files_changed_or_late": int(noted),
            }
        elif name == "quarantine":
            meta |= {"quarantined_this_run": sum(int(n) for _, n in by_reason)}
            meta |= {f"quarantined_{reason}": int(n) for reason, n in by_reason}
        elif name == "consent_events":
            meta |= {"opt_outs_received": int(opt_outs)}
        yield MaterializeResult(asset_key=AssetKey(name), metadata=meta)


checks = build_invariant_checks(GROUP)
