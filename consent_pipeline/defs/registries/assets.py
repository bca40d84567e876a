"""Do-not-call registries: which snapshot of each registry is in force and whether it is fresh (feeds.md §11),
decided once a run for permissions and suppression. Its warning check lists the deliveries that did not
replace the snapshot in force, and why."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.core.registries import build_registry_status
from consent_pipeline.defs.eventlog.assets import OUTPUTS as EVENT_LOG_OUTPUTS
from consent_pipeline.defs.metadata import md_table, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

GROUP = "registries"
CHECK = "held_registry_snapshots"
_DESCRIPTIONS = {
    "registry_status": "Per do-not-call registry: the snapshot in force, its time and whether it is fresh as of "
    "the run (what permissions and suppression read).",
    "registry_snapshot_status": "Per registry and delivery: applied, held (un-lists too much), damaged (a file "
    "not read whole) or a repeat (re-dropped unchanged), and why.",
    "registry_confirmations": "Every operator confirmation of a held registry snapshot, with what it did.",
}


@multi_asset(
    specs=[
        AssetSpec(
            name,
            group_name=GROUP,
            description=description,
            deps=[*EVENT_LOG_OUTPUTS, "erasure_register"],
            kinds={"duckdb"},
        )
        for name, description in _DESCRIPTIONS.items()
    ],
    check_specs=[
        AssetCheckSpec(
            CHECK,
            asset="registry_snapshot_status",
            description="Registry deliveries newer than the snapshot in force that did not replace it: damaged, "
            "re-dropped unchanged, or holding back an un-listing until an operator confirms it.",
        )
    ],
    can_subset=False,
)
def registries(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    progress.report("deciding registry snapshots")
    settings = pipeline.settings
    with pipeline.db.connect() as con:
        load_reference(con, pipeline.company_rules)
        outcome = build_registry_status(
            con, pipeline.company_rules, settings.as_of, settings.confirm_registry_snapshots, context.run.run_id
        )
        status = con.sql(
            "SELECT registry, region, delivery, snapshot_ts, fresh, pending FROM registry_status ORDER BY registry"
        ).pl()
        pending = con.sql(
            "SELECT registry, delivery, status, detail FROM registry_snapshot_status WHERE pending "
            "ORDER BY registry, delivery"
        ).pl()
        tables = {name: table_metadata(con, name) for name in _DESCRIPTIONS}
        registries, stale, held = con.execute(
            # a registry the rules do not require counts once it has been delivered (in_use)
            "SELECT count(*) FILTER (WHERE in_use), count(*) FILTER (WHERE in_use AND NOT fresh), "
            "coalesce(sum(pending), 0) FROM registry_status"
        ).fetchall()[0]
    for registry, delivery, _effective, what in outcome.confirmed:
        context.log.info(f"confirmation {registry}/{delivery}: {what}")
    yield MaterializeResult(
        asset_key=AssetKey("registry_status"),
        metadata={
            **tables["registry_status"],
            "registries": md_table(status),
            "registries_in_use": int(registries),
            "registries_stale": int(stale),
            "deliveries_not_applied": int(held),
        },
    )
    yield MaterializeResult(
        asset_key=AssetKey("registry_snapshot_status"),
        metadata={**tables["registry_snapshot_status"], "rounds": outcome.rounds},
    )
    yield MaterializeResult(
        asset_key=AssetKey("registry_confirmations"),
        metadata={**tables["registry_confirmations"], "this_run": len(outcome.confirmed)},
    )
    yield AssetCheckResult(
        asset_key=AssetKey("registry_snapshot_status"),
        check_name=CHECK,
        passed=pending.height == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "held": pending.height,
            "snapshots": md_table(pending),
            "detail": MetadataValue.md(
                "The snapshot in force stays until a whole, new delivery replaces it; confirm a held one with "
                "`consent-pipeline run --confirm-registry-snapshot REGISTRY/DELIVERY`."
            ),
        },
    )
