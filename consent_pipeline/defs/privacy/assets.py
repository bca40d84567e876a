"""Erasure (semantics §6): the erasure register, and every table scrubbed of erased subjects."""

from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from consent_pipeline.core.lib import build_state, rewrite
from consent_pipeline.core.privacy.erasure import STATE_TABLES, apply_erasures
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.eventlog.assets import OUTPUTS as EVENT_LOG_OUTPUTS
from consent_pipeline.defs.metadata import as_int, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

TABLES = ["erasure_register"]
# What the run has written when erasure is done: the ingested tables (all scrubbed now) and run state.
WRITTEN_BY_NOW = {
    "event_log",
    "landing_report",
    *EVENT_LOG_OUTPUTS,
    *TABLES,
    *STATE_TABLES,
    build_state.TABLE,
    rewrite.TABLE,
}


@multi_asset(
    specs=[
        AssetSpec(
            "erasure_register",
            group_name="privacy",
            deps=EVENT_LOG_OUTPUTS,
            description="Erased contact points (SHA-256 only), when and why; every table is scrubbed of them.",
            kinds={"duckdb"},
        )
    ],
)
def erasure(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    progress.report("applying erasure requests")
    with pipeline.db.connect() as con:
        rules = pipeline.company_rules
        result = apply_erasures(con, sorted(rules.region_of_country), full=pipeline.settings.full_rebuild)
        table = table_metadata(con, "erasure_register")
        early = rewrite.can_rewrite_early(con, WRITTEN_BY_NOW)
    rewritten = None
    if early:  # a first build: the file rewritten now, while it holds only the ingested tables
        pipeline.db.let_close()
        rewritten = rewrite.rewrite_if_pending(pipeline.db, context.run.run_id)
        if rewritten:
            progress.report(f"rewrote the warehouse into a fresh file ({rewritten.reason})")
    yield MaterializeResult(
        asset_key="erasure_register",
        metadata={
            **table,
            "erased_contact_points": as_int(table["dagster/row_count"]),
            "rows_scrubbed_total": sum(result.changed.values()),
            "rows_scrubbed": MetadataValue.json(result.changed),
            # -1: every row was looked at (the register changed); else the new files' rows only
            "files_scrubbed": result.new_files,
            "warehouse_rewritten": rewritten is not None,
            "rewrite_seconds": MetadataValue.float(round(rewritten.seconds, 2) if rewritten else 0.0),
        },
    )


checks = build_invariant_checks("privacy")
