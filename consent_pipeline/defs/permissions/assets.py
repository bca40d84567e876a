"""Permissions (semantics §5) and the review queue (§7)."""

import logging
import time

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.core.lib.sql import timed
from consent_pipeline.core.permissions.permission_scope import Scope, permission_scope, record_permission_inputs
from consent_pipeline.core.permissions.permissions import (
    build_permission_inputs,
    build_permissions,
    write_all_permissions,
)
from consent_pipeline.core.permissions.reviews import build_review_queue
from consent_pipeline.defs.checks import build_invariant_checks
from consent_pipeline.defs.golden.assets import GOLDEN_TABLES
from consent_pipeline.defs.metadata import md_table, table_metadata
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress

log = logging.getLogger(__name__)

# warehouse table -> the temporary table or view it is written from (no sort: row order is not a contract)
TABLES = {
    "contact_permission": "p_permission",
    "review_queue": "r_queue",
    "party_brands": "p_party_brands",
    "party_activity": "p_activity_party",
}


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
        load_reference(con, rules)
        build_permission_inputs(con, rules, as_of)
        started = time.perf_counter()
        scope = (
            Scope(False, "asked for a full rebuild")
            if pipeline.settings.full_rebuild
            else permission_scope(con, rules, as_of)
        )
        log.debug("permission scope: %.2fs", time.perf_counter() - started)
        if scope.incremental:
            build_permissions(con, rules, as_of, scoped=True)
        build_review_queue(con, rules, as_of)
        context.log.info(f"permissions: {'incremental' if scope.incremental else 'full'} ({scope.reason})")
        con.execute("BEGIN TRANSACTION")
        try:
            if scope.incremental:  # only the parties in scope: their rows replaced
                timed(
                    con,
                    "delete contact_permission",
                    "DELETE FROM contact_permission WHERE party_id IN (SELECT party_id FROM perm_scope)",
                )
                timed(
                    con,
                    "insert contact_permission",
                    "INSERT INTO contact_permission SELECT * FROM p_permission",
                )
            else:
                write_all_permissions(con, rules, as_of, pipeline.settings.permission_batch_parties)
            for table, temp in TABLES.items():
                if table != "contact_permission":
                    timed(con, f"write {table}", f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {temp}")
            started = time.perf_counter()
            record_permission_inputs(con, as_of, scope)
            log.debug("record permission inputs: %.2fs", time.perf_counter() - started)
            timed(con, "permissions commit", "COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        by_reason = con.sql(
            "SELECT reason, allowed, count(*) AS keys FROM contact_permission GROUP BY ALL ORDER BY keys DESC"
        ).pl()
        tables = {t: table_metadata(con, t) for t in TABLES}
        recomputed = con.execute("SELECT max(recomputed_parties) FROM permission_build").fetchall()[0][0]
        queue = con.sql("SELECT reason, count(*) AS parties FROM review_queue GROUP BY ALL").pl()
        yield MaterializeResult(
            asset_key=AssetKey("contact_permission"),
            metadata={
                **tables["contact_permission"],
                "by_reason": md_table(by_reason),
                "allowed": int(by_reason.filter(by_reason["allowed"])["keys"].sum()) if by_reason.height else 0,
                "build": "incremental" if scope.incremental else "full",
                "why": scope.reason,
                # -1: rebuilt whole
                "recomputed_parties": -1 if recomputed is None else int(recomputed),
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
