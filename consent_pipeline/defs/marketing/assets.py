"""What marketing pulls each night: customer segments, suppression lists and campaign audiences."""

import polars as pl
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from consent_pipeline.core.extracts import write_extracts
from consent_pipeline.core.reference import load_reference
from consent_pipeline.core.segments import build_segments
from consent_pipeline.core.suppression import build_suppression
from consent_pipeline.defs.checks import invariant_results, invariant_specs
from consent_pipeline.defs.metadata import md_table
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

UPSTREAM = [
    "contact_permission",
    "review_queue",
    "party_brands",
    "party_activity",
    "erasure_register",
    "registry_status",
]


@multi_asset(
    specs=[
        AssetSpec(
            "segments",
            group_name="marketing",
            deps=UPSTREAM,
            kinds={"duckdb"},
            description="Customer segment per party and brand as of the run (semantics §7).",
        ),
        AssetSpec(
            "suppression",
            group_name="marketing",
            deps=UPSTREAM,
            kinds={"duckdb"},
            description="Every contact point x channel x brand x purpose that must not be contacted, and why.",
        ),
        AssetSpec(
            "extracts",
            group_name="marketing",
            deps=UPSTREAM,
            kinds={"csv"},
            description="Tonight's folder: suppression_<channel>.csv, campaign_<id>.csv, review_queue.csv, "
            "manifest.json.",
        ),
    ],
    check_specs=invariant_specs(["segments", "suppression", "extracts"]),
    can_subset=False,
)
def marketing_extracts(context: AssetExecutionContext, pipeline: PipelineResource):
    rules, settings = pipeline.company_rules, pipeline.settings
    progress.report("building segments, suppression lists and campaign extracts")
    with pipeline.db.connect() as con:
        load_reference(con, rules)
        build_segments(con, settings.as_of)
        con.execute("CREATE OR REPLACE TABLE segments AS SELECT * FROM s_segments")
        build_suppression(con, rules, settings.as_of)
        folder, files = write_extracts(con, rules, settings.as_of, context.run.run_id, settings.extracts)
        seg = con.sql(
            "SELECT brand, segment, count(*) AS parties FROM segments GROUP BY ALL ORDER BY ALL"
        ).pl()
        sup = con.sql(
            "SELECT channel, reason, count(*) AS rows FROM suppression GROUP BY ALL ORDER BY ALL"
        ).pl()
        preview = con.sql("SELECT * FROM suppression WHERE reason <> 'erased' LIMIT 10").pl()
        yield MaterializeResult(
            asset_key=AssetKey("segments"),
            metadata={
                "rows": con.sql("SELECT count(*) FROM segments").fetchall()[0][0],
                "by_segment": md_table(seg, 60),
            },
        )
        yield MaterializeResult(
            asset_key=AssetKey("suppression"),
            metadata={
                "rows": con.sql("SELECT count(*) FROM suppression").fetchall()[0][0],
                "by_reason": md_table(sup, 60),
                "preview": md_table(preview),
            },
        )
        yield MaterializeResult(
            asset_key=AssetKey("extracts"),
            metadata={
                "folder": MetadataValue.path(str(folder)),
                "files": md_table(
                    pl.DataFrame(
                        [{"file": f.name, "rows": f.rows, "bytes": f.bytes} for f in files]
                    )
                ),
            },
        )
        yield from invariant_results(con, ["segments", "suppression", "extracts"])
