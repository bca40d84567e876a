"""The run's last step: the warehouse rewritten into a fresh file if erasure (or an earlier run that did not
complete) left freed storage that may hold erased values, then the snapshot for auditors:
`<warehouse dir>/snapshots/<run_id>.duckdb`."""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from consent_pipeline.core.audit.snapshot import write_snapshot
from consent_pipeline.core.lib.rewrite import rewrite_if_pending
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress


def build_snapshot_asset(deps: Sequence[AssetKey]) -> AssetsDefinition:
    @asset(
        name="snapshot",
        group_name="audit",
        deps=list(deps),
        description="A self-contained, read-only DuckDB copy of the warehouse as the run left it: golden, "
        "permission, history, quarantine, ledger and audit tables (snapshots/<run_id>.duckdb). When erasure "
        "scrubbed anything, the warehouse is first rewritten into a fresh file (no erased value in freed "
        "storage).",
        kinds={"duckdb"},
    )
    def snapshot(context: AssetExecutionContext, pipeline: PipelineResource) -> MaterializeResult:
        pipeline.begin(context)
        run_id = context.run.run_id
        pipeline.db.let_close()  # the file is copied, and maybe replaced: no connection may stay open
        rewritten = rewrite_if_pending(pipeline.db, run_id)
        if rewritten:
            progress.report(f"rewrote the warehouse into a fresh file ({rewritten.reason})")
        progress.report("writing the audit snapshot")
        path = write_snapshot(pipeline.settings.warehouse, pipeline.settings.snapshots, run_id)
        pipeline.run_completed()
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(path)),
                "bytes": path.stat().st_size,
                "warehouse_rewritten": rewritten is not None,
                "rewrite_reason": rewritten.reason if rewritten else "",
                "rewrite_seconds": MetadataValue.float(round(rewritten.seconds, 2) if rewritten else 0.0),
            }
        )

    return snapshot
