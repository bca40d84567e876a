"""What marketing pulls each night: the suppression list, customer segments and tonight's extract folder.

Suppression is built from the golden tables alone, in its own step, and checked (`opted_out_suppressed`,
blocking): the extract folder is published only after it and the permission checks pass. The folder's
step then builds the segments; when they or a campaign cannot be built (e.g. from a bad value already in
the warehouse), the suppression lists still go out, and the step then fails so that the run says so
(exit 1).
"""

import datetime as dt

import duckdb
import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from consent_pipeline.core.lib.engine import StepError
from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.core.marketing.extracts import Extracts, write_extracts
from consent_pipeline.core.marketing.segments import write_segments
from consent_pipeline.core.marketing.suppression import build_suppression, use_written_suppression
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.metadata import md_table, scope_metadata, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

GROUP = "marketing"
# A folder every night: one older than a day and a bit is late (warn), later than that is stale (fail).
FRESHNESS = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26))
UPSTREAM = [
    "contact_permission",
    "review_queue",
    "party_brands",
    "party_activity",
    "erasure_register",
    "registry_status",
]


@asset(
    name="suppression",
    group_name=GROUP,
    deps=UPSTREAM,
    kinds={"duckdb"},
    description="Every contact point x channel x brand x purpose that must not be contacted, and why.",
)
def suppression(context: AssetExecutionContext, pipeline: PipelineResource) -> MaterializeResult:
    pipeline.begin(context)
    rules = pipeline.company_rules
    progress.report("building the suppression list")
    with pipeline.db.connect() as con:
        load_reference(con, rules)
        scope = build_suppression(con, rules, pipeline.engine_in_use)
        sup = con.sql("SELECT channel, reason, count(*) AS rows FROM suppression GROUP BY ALL ORDER BY ALL").pl()
        preview = con.sql("SELECT * FROM suppression WHERE reason <> 'erased' LIMIT 10").pl()
        table = table_metadata(con, "suppression")
    per_channel = sup.group_by("channel").agg(pl.col("rows").sum()).sort("channel")
    return MaterializeResult(
        metadata={
            **table,
            **scope_metadata(scope, "contact_points"),
            "by_reason": md_table(sup, 60),
            "preview": md_table(preview),
            # plotted night by night: the size of each channel's list
            **{f"suppressed_{r['channel']}": int(r["rows"]) for r in per_channel.iter_rows(named=True)},
        }
    )


@multi_asset(
    specs=[
        AssetSpec(
            "segments",
            group_name=GROUP,
            deps=UPSTREAM,
            kinds={"duckdb"},
            description="Customer segment per party and brand as of the run (semantics §7).",
        ),
        AssetSpec(
            "extracts",
            group_name=GROUP,
            deps=[*UPSTREAM, "suppression"],
            kinds={"csv"},
            # the nightly promise: a new folder every night
            freshness_policy=FRESHNESS,
            description="Tonight's folder: suppression_<channel>.csv, campaign_<id>.csv, review_queue.csv, "
            "manifest.json. Published only when the blocking checks upstream pass.",
        ),
    ],
    can_subset=False,
)
def marketing_extracts(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    rules, settings = pipeline.company_rules, pipeline.settings
    progress.report("building segments and writing the extracts")
    with pipeline.db.connect() as con:
        load_reference(con, rules)
        use_written_suppression(con)
        segments_error = None
        try:
            write_segments(con, settings.as_of, pipeline.engine_in_use)
        except (duckdb.Error, StepError) as exc:  # the suppression lists go out all the same
            segments_error = "segments could not be built: " + (str(exc).strip().splitlines() or ["?"])[0]
        out = write_extracts(
            con, rules, settings.as_of, context.run.run_id, settings.extracts, campaigns_error=segments_error
        )
        for name in out.foreign:
            context.log.warning(f"{out.folder} holds {name}, which the pipeline did not write: kept")
        if segments_error is None:
            seg = con.sql("SELECT brand, segment, count(*) AS parties FROM segments GROUP BY ALL ORDER BY ALL").pl()
            yield MaterializeResult(
                asset_key=AssetKey("segments"),
                metadata={**table_metadata(con, "segments"), "by_segment": md_table(seg, 60)},
            )
        yield MaterializeResult(
            asset_key=AssetKey("extracts"),
            metadata={
                "summary": _summary(settings.as_of, out),
                "files_written": len(out.files),
                "rows_written": sum(f.rows for f in out.files),
                "folder": MetadataValue.path(str(out.folder)),
                "files": md_table(
                    pl.DataFrame([{"file": f.name, "rows": f.rows, "bytes": f.bytes} for f in out.files])
                ),
                "not_written": md_table(pl.DataFrame(out.not_written, schema=["file", "error"], orient="row")),
                "kept_files_not_written_by_the_pipeline": md_table(
                    pl.DataFrame({"file": out.foreign}, schema={"file": pl.String})
                ),
            },
        )
    if out.not_written:
        names = ", ".join(name for name, _ in out.not_written)
        why = segments_error or out.not_written[0][1]
        raise Failure(description=f"{why}; not written: {names}; the suppression lists were written to {out.folder}")


def _summary(as_of: dt.datetime, out: Extracts) -> MetadataValue:
    """What marketing gets tonight, in a few lines (markdown on the asset page)."""
    lines = [
        f"**{out.folder.name}** as of {as_of:%Y-%m-%dT%H:%M:%SZ}: {len(out.files)} files, "
        f"{sum(f.rows for f in out.files):,} rows; published after the blocking checks passed.",
        "",
        "| file | rows |",
        "| --- | ---: |",
        *(f"| {f.name} | {f.rows:,} |" for f in out.files),
    ]
    if out.not_written:
        lines += ["", "**Not written:**", *(f"- {name}: {why}" for name, why in out.not_written)]
    if out.foreign:
        lines += ["", f"Kept, not written by the pipeline: {', '.join(out.foreign)}"]
    return MetadataValue.md("\n".join(lines))


checks = build_invariant_checks(GROUP)
