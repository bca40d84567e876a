"""The code location as a whole, in the style of dagster-open-platform's definitions test: it loads, and every
asset (its group, kinds, dependencies, freshness), check (its asset, whether it blocks), job, schedule and
sensor is named and compared with the committed snapshot, so that a change to the graph is a reviewed diff.

After an intended change: `UPDATE_DEFINITIONS_SNAPSHOT=1 pytest tests/test_definitions.py`, and commit
tests/definitions_snapshot.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dagster import ScheduleDefinition

from consent_pipeline.core.audit.invariant_registry import BLOCKING, INVARIANTS
from consent_pipeline.definitions import JOB, NightlyConfig, defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def describe() -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "freshness": node.freshness_policy is not None,
        }
    checks = {}
    for ck in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        spec = graph.get_check_spec(ck)
        checks[f"{ck.asset_key.to_user_string()}:{ck.name}"] = {"blocking": spec.blocking}
    job = defs.resolve_job_def(JOB)
    resolved = [s for s in defs.schedules or [] if isinstance(s, ScheduleDefinition)]
    assert len(resolved) == len(list(defs.schedules or [])), "a schedule left unresolved"
    schedules = {
        s.name: {"job": s.job_name, "cron": s.cron_schedule, "timezone": s.execution_timezone} for s in resolved
    }
    sensors = {s.name: {"job": s.job_name, "interval": s.minimum_interval_seconds} for s in defs.sensors or []}
    return {
        "assets": assets,
        "checks": checks,
        "jobs": {
            job.name: {
                "config": sorted(NightlyConfig.model_fields),
                "tags": dict(job.tags),
                "steps": len(job.graph.node_defs),
            }
        },
        "schedules": schedules,
        "sensors": sensors,
    }


def test_definitions_match_the_snapshot() -> None:
    current = describe()
    if os.environ.get("UPDATE_DEFINITIONS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == committed, "the definitions changed: review, then UPDATE_DEFINITIONS_SNAPSHOT=1 (see docstring)"


def test_every_invariant_is_a_check_and_only_the_promises_block() -> None:
    checks = describe()["checks"]
    for name, inv in INVARIANTS.items():
        assert checks[f"{inv.table}:{name}"] == {"blocking": inv.blocking}
    assert sorted(c.split(":")[1] for c, v in checks.items() if v["blocking"]) == BLOCKING


def test_extracts_come_after_the_blocking_checks_that_protect_them() -> None:
    assets = describe()["assets"]
    # publishing the folder waits for the permission and suppression checks (Dagster runs a blocking check
    # of an asset before anything downstream of it)
    assert {"suppression", "contact_permission"} <= set(assets["extracts"]["deps"])
    assert assets["extracts"]["freshness"]
