"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load these definitions."""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetSelection,
    Config,
    ConfigMapping,
    Definitions,
    define_asset_job,
    in_process_executor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from pydantic import Field

from consent_pipeline.defs.audit import assets as audit_defs
from consent_pipeline.defs.audit.assets import audit
from consent_pipeline.defs.audit.snapshot import build_snapshot_asset
from consent_pipeline.defs.eventlog import assets as eventlog_defs
from consent_pipeline.defs.eventlog.assets import event_log
from consent_pipeline.defs.golden import assets as golden_defs
from consent_pipeline.defs.golden.assets import golden_consent
from consent_pipeline.defs.marketing import assets as marketing_defs
from consent_pipeline.defs.marketing.assets import marketing_extracts, suppression
from consent_pipeline.defs.operation.schedules import build_operation
from consent_pipeline.defs.permissions import assets as permissions_defs
from consent_pipeline.defs.permissions.assets import permissions
from consent_pipeline.defs.privacy import assets as privacy_defs
from consent_pipeline.defs.privacy.assets import erasure
from consent_pipeline.defs.registries.assets import registries
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.defs.sources.assets import source_assets

_TABLE_ASSETS = [event_log, erasure, registries, golden_consent, permissions, suppression, marketing_extracts, audit]
# The snapshot is taken after every table asset.
snapshot = build_snapshot_asset([key for a in _TABLE_ASSETS for key in a.keys])
ALL_ASSETS = [*source_assets, *_TABLE_ASSETS, snapshot]
# The invariants' asset checks, domain by domain (core/audit/invariant_registry.py lists the invariants).
ALL_CHECKS = [
    *eventlog_defs.checks,
    *privacy_defs.checks,
    *golden_defs.checks,
    *permissions_defs.checks,
    *marketing_defs.checks,
    *audit_defs.checks,
]

JOB = "consent_nightly"


class NightlyConfig(Config):
    """A night's parameters, the job's run config. Re-executing a run reuses them (its as-of included)."""

    as_of: str = Field(
        default="",
        description="The run's 'now' (ISO 8601). Empty: CONSENT_AS_OF, else the time the run starts (kept "
        "with the run, so a re-execution uses it too). The schedule sets its tick's time.",
    )
    full_rebuild: bool = Field(
        default=False, description="Recompute every golden key and permission (same result, slower)."
    )
    confirm_registry_snapshots: list[str] = Field(
        default_factory=list,
        description="Held do-not-call registry snapshots to apply, each REGISTRY/DELIVERY (docs/operations.md).",
    )
    engine: str = Field(
        default="",
        description="Where the connectors and the decision steps run: duckdb or spark. Empty: CONSENT_ENGINE, "
        "else duckdb (docs/scale-out.md).",
    )
    spark_master: str = Field(
        default="",
        description="The Spark master for engine spark (local[*], spark://host:7077, yarn, sc://host:15002). Empty: "
        "CONSENT_SPARK_MASTER, else local[*].",
    )
    deliveries: list[str] = Field(
        default_factory=list,
        description="The delivery folders that started the run (set by new_delivery_sensor; informative: a run "
        "reads every delivery not read yet).",
    )


def build_nightly_job(pipeline: PipelineResource, console_log_level: str | None = None) -> UnresolvedAssetJobDefinition:
    """The job `consent_nightly`: every asset and check, with NightlyConfig as its run config (mapped onto the
    pipeline resource, whose paths come from `pipeline`)."""
    paths = {k: getattr(pipeline, k) for k in ("landing", "warehouse", "extracts", "rules")}

    def to_run_config(config: dict[str, Any]) -> dict[str, Any]:
        night = NightlyConfig(**config)
        out: dict[str, Any] = {
            "resources": {
                "pipeline": {
                    "config": {
                        **paths,
                        # the resource's own as-of (the CLI's, tests') when the run config gives none
                        "as_of": night.as_of or pipeline.as_of,
                        "full_rebuild": night.full_rebuild or pipeline.full_rebuild,
                        "confirm_registry_snapshots": night.confirm_registry_snapshots
                        or list(pipeline.confirm_registry_snapshots),
                        "engine": night.engine or pipeline.engine,
                        "spark_master": night.spark_master or pipeline.spark_master,
                        "deliveries": night.deliveries,
                    }
                }
            }
        }
        if console_log_level:
            out["loggers"] = {"console": {"config": {"log_level": console_log_level}}}
        return out

    return define_asset_job(
        JOB,
        selection=AssetSelection.all(),
        description="Every asset and check, in order: ingest, golden record, permissions, suppression, then "
        "tonight's extracts (published only when the blocking checks pass), audit and snapshot.",
        config=ConfigMapping(config_fn=to_run_config, config_schema=NightlyConfig.to_config_schema()),
        # dagster.yaml lets one run with this tag go at a time (the run queue holds the others)
        tags={"consent/warehouse": "warehouse"},
    )


def build_definitions(pipeline: PipelineResource | None = None, console_log_level: str | None = None) -> Definitions:
    pipeline = pipeline or PipelineResource()
    job = build_nightly_job(pipeline, console_log_level)
    nightly_schedule, new_delivery_sensor = build_operation(job)
    # In-process: DuckDB allows one writer, and runs are about 3x faster than a process per step.
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[job],
        schedules=[nightly_schedule],
        sensors=[new_delivery_sensor],
        resources={"pipeline": pipeline},
        executor=in_process_executor,
    )


defs = build_definitions()
