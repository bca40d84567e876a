"""Audit tables: the opt-out service level per opt-out, and sends that should not have happened."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from consent_pipeline.core.audit import write_audit
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.metadata import as_int, md_table, scope_metadata, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

TABLES = ["optout_sla", "violations"]


@multi_asset(
    specs=[
        AssetSpec(
            "optout_sla",
            group_name="audit",
            deps=["extracts", "suppression"],
            kinds={"duckdb"},
            description="Every opt-out: when tonight's or an earlier suppression extract first honoured it, "
            "its deadline by region, breached or not, and the source's lag.",
        ),
        AssetSpec(
            "violations",
            group_name="audit",
            deps=["extracts", "suppression"],
            kinds={"duckdb"},
            description="Marketing sends after an opt-out or erasure should have been honoured.",
        ),
    ],
    can_subset=False,
)
def audit(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    rules, settings = pipeline.company_rules, pipeline.settings
    progress.report("auditing opt-out service levels and sends")
    with pipeline.db.connect() as con:
        scope = write_audit(con, rules, settings.as_of, context.run.run_id, pipeline.engine_in_use)
        lag = con.sql(
            "SELECT source, count(*) AS opt_outs, count(*) FILTER (WHERE breached) AS breached, "
            "round(median(source_lag_hours), 1) AS median_lag_hours, round(max(source_lag_hours), 1) AS max_lag_hours "
            "FROM optout_sla GROUP BY source ORDER BY source"
        ).pl()
        per_day = con.sql(
            "SELECT CAST(event_ts AS DATE) AS day, source, count(*) AS opt_outs FROM optout_sla "
            "WHERE event_ts >= CAST(? AS TIMESTAMP) - INTERVAL 14 DAY GROUP BY ALL ORDER BY day, source",
            params=[settings.as_of],
        ).pl()
        tables = {t: table_metadata(con, t) for t in TABLES}
        breached = con.sql("SELECT count(*) FROM optout_sla WHERE breached").fetchall()[0][0]
        yield MaterializeResult(
            asset_key=AssetKey("optout_sla"),
            metadata={
                **tables["optout_sla"],
                **scope_metadata(scope, "contact_points"),
                "sla_breaches": int(breached),
                "lag_by_source": md_table(lag),
                "opt_outs_per_day": _bars(per_day),
                **{f"opt_outs_{r['source']}": int(r["opt_outs"]) for r in lag.iter_rows(named=True)},
            },
        )
        yield MaterializeResult(
            asset_key=AssetKey("violations"),
            metadata={**tables["violations"], "sends_after_opt_out": as_int(tables["violations"]["dagster/row_count"])},
        )


def _bars(frame):
    """Opt-outs per source per day as a small text bar chart (the UI also plots the numeric metadata)."""
    from dagster import MetadataValue

    if frame.height == 0:
        return MetadataValue.md("_no opt-outs in the last 14 days_")
    top = max(int(frame["opt_outs"].max()), 1)
    lines = ["| day | source | opt-outs | |", "| --- | --- | ---: | --- |"]
    for r in frame.iter_rows(named=True):
        bar = "█" * max(1, round(20 * r["opt_outs"] / top))
        lines.append(f"| {r['day']} | {r['source']} | {r['opt_outs']} | {bar} |")
    return MetadataValue.md("\n".join(lines))


checks = build_invariant_checks("audit")
