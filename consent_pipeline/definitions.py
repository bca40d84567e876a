"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load these definitions."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from consent_pipeline.defs.audit.assets import audit
from consent_pipeline.defs.audit.snapshot import build_snapshot_asset
from consent_pipeline.defs.eventlog.assets import event_log
from consent_pipeline.defs.golden.assets import golden_consent
from consent_pipeline.defs.marketing.assets import marketing_extracts
from consent_pipeline.defs.operation.schedules import build_operation
from consent_pipeline.defs.permissions.assets import permissions
from consent_pipeline.defs.privacy.assets import erasure
from consent_pipeline.defs.registries.assets import registries
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.defs.sources.assets import source_assets

_TABLE_ASSETS = [event_log, erasure, registries, golden_consent, permissions, marketing_extracts, audit]
# The snapshot is taken after every table asset.
snapshot = build_snapshot_asset([key for a in _TABLE_ASSETS for key in a.keys])
ALL_ASSETS = [*source_assets, *_TABLE_ASSETS, snapshot]

nightly_job = define_asset_job(
    "consent_nightly", selection=AssetSelection.all(), description="Every asset, in order."
)
nightly_schedule, new_delivery_sensor = build_operation(nightly_job)


def build_definitions(pipeline: PipelineResource | None = None) -> Definitions:
    # In-process: DuckDB allows one writer, and runs are about 3x faster than a process per step.
    return Definitions(
        assets=ALL_ASSETS,
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=[new_delivery_sensor],
        resources={"pipeline": pipeline or PipelineResource()},
        executor=in_process_executor,
    )


defs = build_definitions()
