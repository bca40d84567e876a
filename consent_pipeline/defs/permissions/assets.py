"""Permissions (semantics §5) and the review queue (§7)."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from consent_pipeline.core.permissions import TABLES, build_permission_tables
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.golden.assets import GOLDEN_TABLES
from consent_pipeline.defs.metadata import md_table, scope_metadata, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress


@multi_asset(
    specs=[
        AssetSpec(
            "contact_permission",
            group_name="permissions",
            deps=[*GOLDEN_TABLES, "registry_status"],
            description="May this contact point get this purpose from this brand on this channel, and why "
            "(the first applicable row of the decision table, semantics §5).",
            kinds={"duckdb"},
        ),
        AssetSpec(
            "review_queue",
            group_name="permissions",
            deps=list(GOLDEN_TABLES),
            description="Customers whose preferences should be confirmed at the next contact (never blocks).",
            kinds={"duckdb"},
        ),
        AssetSpec(
            "party_brands",
            group_name="permissions",
            deps=list(GOLDEN_TABLES),
            description="The brands each party has a relationship with (master brands, events, activity).",
            kinds={"duckdb"},
        ),
        AssetSpec(
            "party_activity",
            group_name="permissions",
            deps=list(GOLDEN_TABLES),
            description="Purchases, inquiries and contracts attributed to parties (walk-ins by contact point).",
            kinds={"duckdb"},
        ),
    ],
    can_subset=False,
)
def permissions(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    progress.report("deciding permissions")
    rules, as_of = pipeline.company_rules, pipeline.settings.as_of
    with pipeline.db.connect() as con:
        settings = pipeline.settings
        scope = build_permission_tables(
            con, rules, as_of, settings.full_rebuild, settings.permission_batch_parties, pipeline.engine_in_use
        )
        context.log.info(f"permissions: {'incremental' if scope.incremental else 'full'} ({scope.reason})")
        by_reason = con.sql(
            "SELECT reason, allowed, count(*) AS keys FROM contact_permission GROUP BY ALL ORDER BY keys DESC"
        ).pl()
        tables = {t: table_metadata(con, t) for t in TABLES}
        queue = con.sql("SELECT reason, count(*) AS parties FROM review_queue GROUP BY ALL").pl()
        yield MaterializeResult(
            asset_key=AssetKey("contact_permission"),
            metadata={
                **tables["contact_permission"],
                "by_reason": md_table(by_reason),
                "allowed": int(by_reason.filter(by_reason["allowed"])["keys"].sum()) if by_reason.height else 0,
                **scope_metadata(scope, "parties"),
            },
        )
        for table in ("party_brands", "party_activity"):
            yield MaterializeResult(asset_key=AssetKey(table), metadata=tables[table])
        yield MaterializeResult(
            asset_key=AssetKey("review_queue"),
            metadata={
                **tables["review_queue"],
                "by_reason": md_table(queue),
                "as_of": MetadataValue.text(as_of.isoformat()),
            },
        )


checks = build_invariant_checks("permissions")
