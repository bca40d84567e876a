"""The run's snapshot for auditors, written last: `<warehouse dir>/snapshots/<run_id>.duckdb`."""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from consent_pipeline.core.snapshot import write_snapshot
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import progress


def build_snapshot_asset(deps: Sequence[AssetKey]) -> AssetsDefinition:
    @asset(
        name="snapshot",
        group_name="audit",
        deps=list(deps),
        description="A self-contained, read-only DuckDB copy of the warehouse as the run left it: golden, "
        "permission, history, quarantine, ledger and audit tables (snapshots/<run_id>.duckdb).",
        kinds={"duckdb"},
    )
    def snapshot(context: AssetExecutionContext, pipeline: PipelineResource) -> MaterializeResult:
        progress.report("writing the audit snapshot")
        folder = pipeline.settings.snapshots
        path = write_snapshot(pipeline.settings.warehouse, folder, context.run.run_id)
        return MaterializeResult(
            metadata={"path": MetadataValue.path(str(path)), "bytes": path.stat().st_size}
        )

    return snapshot
