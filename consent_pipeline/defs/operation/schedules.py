"""Nightly run, and a sensor that starts a run when a new delivery folder lands."""

import hashlib
import json
from typing import Any

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from consent_pipeline.core.deliveries import delivery_folders
from consent_pipeline.defs.resources import PipelineResource
from source_connectors import SOURCES


def build_operation(job: Any) -> tuple[ScheduleDefinition, Any]:
    nightly = ScheduleDefinition(
        name="nightly_consent_run",
        job=job,
        cron_schedule="0 3 * * *",
        execution_timezone="UTC",
        description="Every night at 03:00 UTC: ingest what landed, rebuild the golden record and the extracts.",
        default_status=DefaultScheduleStatus.STOPPED,
    )

    @sensor(
        name="new_delivery_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts a run when a new delivery folder appears in the landing tree.",
    )
    def new_delivery_sensor(
        context: SensorEvaluationContext, pipeline: PipelineResource
    ) -> SensorResult | SkipReason:
        landing = pipeline.settings.landing
        if not landing.is_dir():
            return SkipReason(f"landing directory {landing} does not exist")
        current = delivery_folders(landing, SOURCES)
        seen = set(json.loads(context.cursor)) if context.cursor else set()
        new = [d for d in current if d not in seen]
        if not new:
            return SkipReason(f"no new delivery ({len(current)} known)")
        key = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
        context.log.info(f"new deliveries: {', '.join(new[:20])}{' ...' if len(new) > 20 else ''}")
        return SensorResult(
            run_requests=[RunRequest(run_key=key, tags={"deliveries": str(len(new))})],
            cursor=json.dumps(current),
        )

    return nightly, new_delivery_sensor
