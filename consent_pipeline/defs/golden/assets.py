"""Golden consent: parties, contact-point ownership, consent history and the current state per key."""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    FreshnessPolicy,
    MaterializeResult,
    multi_asset,
)

from consent_pipeline.core.golden import GOLDEN_TABLES, build_golden
from consent_pipeline.core.lib.build_state import last_build
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.eventlog.assets import OUTPUTS as EVENT_LOG_OUTPUTS
from consent_pipeline.defs.metadata import md_table, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

GROUP = "golden"
_DESCRIPTIONS = {
    "parties": "Customers (latest master row) and prospects, with household, country and region.",
    "contact_point_owner": "The one party that owns each contact point, and the rule that decided (semantics §3).",
    "party_contact_points": "Every contact point associated with each party (party-level opt-outs reach all).",
    "consent_effects": "Events projected onto contact points and expanded to leaf keys (input of history).",
    "consent_history": "Every version of every key's state: valid_from/valid_to (source time), recorded_at.",
    "consent_current": "The current consent state per (contact point, channel, leaf purpose, brand).",
    "waiting_events": "Events naming a customer not seen yet: they take effect when it arrives.",
}
# Nightly runs: a golden table older than a day and a bit is late (warn), later than that is stale (fail).
FRESHNESS = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26))


@multi_asset(
    specs=[
        AssetSpec(
            name,
            group_name=GROUP,
            description=_DESCRIPTIONS[name],
            deps=[*EVENT_LOG_OUTPUTS, "erasure_register"],
            kinds={"duckdb"},
            freshness_policy=FRESHNESS,
        )
        for name in GOLDEN_TABLES
    ],
    check_specs=[
        AssetCheckSpec(
            "events_waiting_for_a_customer",
            asset="waiting_events",
            description="How many events wait for their customer to arrive.",
        ),
    ],
    can_subset=False,
)
def golden_consent(context: AssetExecutionContext, pipeline: PipelineResource):
    pipeline.begin(context)
    progress.report("building golden consent")
    with pipeline.db.connect() as con:
        result = build_golden(
            con, pipeline.company_rules, full=pipeline.settings.full_rebuild, engine=pipeline.engine_in_use
        )
        waiting = con.sql(
            "SELECT source, count(*) AS events, min(received_ts) AS oldest_received FROM waiting_events GROUP BY source"
        ).pl()
        tables = {name: table_metadata(con, name, result.counts[name]) for name in GOLDEN_TABLES}
        build = last_build(con, "golden")
        recomputed = build.recomputed if build else None
    context.log.info(f"golden consent: {result.mode} ({result.reason})")
    for name in GOLDEN_TABLES:
        yield MaterializeResult(
            asset_key=AssetKey(name),
            metadata={
                **tables[name],
                "build": result.mode,
                "why": result.reason,
                # -1: rebuilt whole
                "recomputed_contact_points": -1 if recomputed is None else int(recomputed),
                # ownership decided again for: every contact point (-1), or those it can have changed for
                "identity": result.identity,
                "identity_contact_points": result.identity_scope,
            },
        )
    total = int(waiting["events"].sum()) if waiting.height else 0
    yield AssetCheckResult(
        asset_key=AssetKey("waiting_events"),
        check_name="events_waiting_for_a_customer",
        passed=total == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"waiting": total, "by_source": md_table(waiting)},
    )


checks = build_invariant_checks(GROUP)
