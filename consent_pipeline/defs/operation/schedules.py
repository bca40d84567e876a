"""The nightly schedule (its run's as-of is the tick's time), and a sensor that starts a run when a new
delivery folder lands. Neither touches the warehouse: the run lock is taken when a run's first asset starts
(defs/resources.py), never while a schedule or sensor is evaluated."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from consent_pipeline.core.ingest.deliveries import delivery_folders
from consent_pipeline.core.ingest.landing import delivery_time
from consent_pipeline.defs.resources import AS_OF_TAG, PipelineResource
from source_connectors import SOURCES

# A run request names at most this many of the deliveries that started it (the run reads them all anyway).
NAMED_DELIVERIES = 50


def iso_utc(when: dt.datetime) -> str:
    """A time as the as-of text runs are given: UTC to the second, `Z`."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def newest_per_source(folders: list[str]) -> dict[str, str]:
    """The newest delivery folder name of each source (by the time the name encodes; names that are not a
    delivery time do not count)."""
    newest: dict[str, tuple[dt.datetime, str]] = {}
    for folder in folders:
        source, _, name = folder.partition("/")
        when = delivery_time(name)
        if when is not None and (source not in newest or when > newest[source][0]):
            newest[source] = (when, name)
    return {source: name for source, (_, name) in sorted(newest.items())}


def new_deliveries(folders: list[str], cursor: dict[str, str]) -> list[str]:
    """The folders dated after the cursor's newest delivery of their source (every one of a source the
    cursor does not know)."""
    new = []
    for folder in folders:
        source, _, name = folder.partition("/")
        when = delivery_time(name)
        seen = delivery_time(cursor[source]) if source in cursor else None
        if when is not None and (seen is None or when > seen):
            new.append(folder)
    return new


def read_cursor(text: str | None) -> dict[str, str]:
    """The sensor's cursor: `{source: newest delivery seen}` (one entry per source, so it stays small). A
    cursor of an older version (a list of every folder seen) is read as the newest of each source."""
    if not text:
        return {}
    data = json.loads(text)
    if isinstance(data, list):
        return newest_per_source([str(f) for f in data])
    return {str(k): str(v) for k, v in data.items()}


def build_operation(job: Any) -> tuple[Any, Any]:
    @schedule(
        name="nightly_consent_run",
        job=job,
        cron_schedule="0 3 * * *",
        execution_timezone="UTC",
        description="Every night at 03:00 UTC: ingest what landed, rebuild the golden record and the extracts, "
        "as of the tick's time (a re-execution keeps it).",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def nightly_consent_run(context: ScheduleEvaluationContext) -> RunRequest:
        as_of = iso_utc(context.scheduled_execution_time)
        return RunRequest(run_key=as_of, run_config={"as_of": as_of}, tags={AS_OF_TAG: as_of})

    @sensor(
        name="new_delivery_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts a run when a delivery folder newer than the newest seen of its source lands (a "
        "late folder with an older name waits for the nightly run).",
    )
    def new_delivery_sensor(context: SensorEvaluationContext, pipeline: PipelineResource) -> SensorResult | SkipReason:
        # Only the landing folder is read here: no warehouse, no lock (a run may hold them).
        landing = pipeline.settings.landing
        if not landing.is_dir():
            return SkipReason(f"landing directory {landing} does not exist")
        current = delivery_folders(landing, SOURCES)
        cursor = read_cursor(context.cursor)
        new = new_deliveries(current, cursor)
        if not new:
            return SkipReason(f"no new delivery ({len(current)} known)")
        key = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
        context.log.info(f"new deliveries: {', '.join(new[:20])}{' ...' if len(new) > 20 else ''}")
        as_of = iso_utc(dt.datetime.now(dt.UTC))
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=key,
                    run_config={"as_of": as_of, "deliveries": new[:NAMED_DELIVERIES]},
                    tags={"deliveries": str(len(new)), AS_OF_TAG: as_of},
                )
            ],
            cursor=json.dumps({**cursor, **newest_per_source(new)}, sort_keys=True),
        )

    return nightly_consent_run, new_delivery_sensor
