"""Operating the pipeline with Dagster: the nightly schedule pins its run's as-of to its tick, a re-execution
keeps its parent's as-of, the sensor's cursor stays one delivery per source, and a sensor evaluated while a
run holds the warehouse neither fails nor disturbs the run (the run lock is taken by the run's first asset,
never by a sensor or schedule evaluation). The CLI keeps its runs in a Dagster home beside the warehouse."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import (
    DagsterInstance,
    ReexecutionOptions,
    build_schedule_context,
    build_sensor_context,
    execute_job,
    reconstructable,
)
from dagster._core.instance.ref import InstanceRef

from consent_pipeline.definitions import JOB, build_definitions
from consent_pipeline.defs.resources import AS_OF_TAG, PipelineResource
from consent_pipeline.run import HOME_DAGSTER_YAML
from source_connectors import SOURCES
from tests.faults import paused_run, resume, run_args
from tests.golden.conftest import DELIVERIES, land
from tests.helpers import ROOT, write


def _defs(landing: Path, warehouse: Path, extracts: Path):
    return build_definitions(
        PipelineResource(
            landing=str(landing), warehouse=str(warehouse), extracts=str(extracts), rules=str(ROOT / "rules")
        )
    )


def test_the_schedule_runs_as_of_its_tick(tmp_path: Path) -> None:
    schedule = _defs(tmp_path, tmp_path / "w.duckdb", tmp_path / "x").resolve_schedule_def("nightly_consent_run")
    tick = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)
    with build_schedule_context(scheduled_execution_time=tick) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None and len(requests) == 1
    assert requests[0].run_config == {"as_of": "2026-03-01T03:00:00Z"}
    assert requests[0].tags[AS_OF_TAG] == "2026-03-01T03:00:00Z"
    assert requests[0].run_key == "2026-03-01T03:00:00Z"


def test_the_sensor_cursor_keeps_the_newest_delivery_per_source(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, DELIVERIES)
    sensor = _defs(landing, tmp_path / "w.duckdb", tmp_path / "x").resolve_sensor_def("new_delivery_sensor")
    resources = {"pipeline": PipelineResource(landing=str(landing), warehouse=str(tmp_path / "w.duckdb"))}

    def tick(cursor: str | None):
        with build_sensor_context(cursor=cursor, resources=resources) as context:
            return sensor.evaluate_tick(context)

    first = tick(None)
    assert first.run_requests and len(first.run_requests) == 1 and first.cursor is not None
    config = first.run_requests[0].run_config
    assert sorted(config["deliveries"]) == sorted({f"{s}/{d}" for s, d, *_ in DELIVERIES})
    assert config["as_of"].endswith("Z")
    cursor = json.loads(first.cursor)
    # one entry per source: the newest delivery seen
    assert set(cursor) == {s for s, *_ in DELIVERIES} and set(cursor) <= set(SOURCES)
    assert cursor["mailchimp"] == max(d for s, d, *_ in DELIVERIES if s == "mailchimp")

    again = tick(first.cursor)
    assert not again.run_requests and (again.skip_message or "").startswith("no new delivery")

    write(landing, "mailchimp", "2026-03-02T020000Z", "subscribed_members_export_x.csv", "Email Address\n")
    later = tick(first.cursor)
    assert later.run_requests and later.cursor is not None
    assert later.run_requests[0].run_config["deliveries"] == ["mailchimp/2026-03-02T020000Z"]
    assert json.loads(later.cursor) == {**cursor, "mailchimp": "2026-03-02T020000Z"}
    # the cursor of an earlier version (every folder seen, a list) still works
    old = json.dumps([f"{s}/{d}" for s, d, *_ in DELIVERIES])
    assert (tick(old).run_requests or [])[0].run_config["deliveries"] == ["mailchimp/2026-03-02T020000Z"]


def test_a_sensor_evaluated_while_a_run_holds_the_warehouse(tmp_path: Path) -> None:
    """A run paused with the warehouse open and the lock held (after the event log's transaction): the sensor
    still evaluates (it reads the landing folder only) and asks for a run of the new delivery; the paused
    run then completes."""
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "w" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES)
    go = tmp_path / "go"
    with paused_run(landing, warehouse, extracts, "2026-03-01T06:00:00Z", "eventlog:ingested", go) as proc:
        # the run holds the warehouse: DuckDB refuses another process, and the run lock is taken
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(warehouse), read_only=True)
        assert f"pid {proc.pid}" in warehouse.with_name("w.duckdb.lock").read_text()

        write(landing, "mailchimp", "2026-03-02T020000Z", "subscribed_members_export_x.csv", "Email Address\n")
        sensor = _defs(landing, warehouse, extracts).resolve_sensor_def("new_delivery_sensor")
        cursor = json.dumps({s: d for s, d, *_ in sorted(DELIVERIES, key=lambda d: d[1])})
        resources = {"pipeline": PipelineResource(landing=str(landing), warehouse=str(warehouse))}
        with build_sensor_context(cursor=cursor, resources=resources) as context:
            result = new = sensor.evaluate_tick(context)
        assert result.run_requests, result.skip_message
        assert (new.run_requests or [])[0].run_config["deliveries"] == ["mailchimp/2026-03-02T020000Z"]
        assert proc.poll() is None  # the run goes on, untouched
        stdout, stderr = resume(proc, go)
    assert proc.returncode == 0, stdout + stderr
    assert "succeeded" in stdout


def test_the_cli_keeps_its_runs_in_a_dagster_home_beside_the_warehouse(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "w.duckdb"
    land(landing, DELIVERIES)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONSENT_", "DAGSTER_HOME"))}
    done = subprocess.run(
        run_args(landing, warehouse, tmp_path / "x", "2026-03-01T06:00:00Z", "--quiet"),
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    home = warehouse.parent / "dagster_home"
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == [JOB]
        assert runs[0].run_config["as_of"] == "2026-03-01T06:00:00Z"
        assert runs[0].tags[AS_OF_TAG] == "2026-03-01T06:00:00Z"
        assert str(runs[0].status) == "DagsterRunStatus.SUCCESS"


def test_a_reader_that_goes_away_costs_the_output_not_the_status(tmp_path: Path) -> None:
    """`consent-pipeline run ... | head`: the reader closes the pipe before the summary is written. The run
    keeps its own exit status and prints no traceback; another command stops with the shell's 141."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "w.duckdb"
    land(landing, DELIVERIES)
    reader, writer = os.pipe()
    os.close(reader)  # gone before anything is written
    try:
        commands = {
            "run": run_args(landing, warehouse, tmp_path / "x", "2026-03-01T06:00:00Z", "--quiet"),
            "check-rules": [run_args(landing, warehouse, tmp_path / "x", "")[0], "check-rules"],
        }
        done = {
            name: subprocess.run(cmd, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=600)
            for name, cmd in commands.items()
        }
    finally:
        os.close(writer)
    assert (done["run"].returncode, done["run"].stderr) == (0, "")
    assert (done["check-rules"].returncode, done["check-rules"].stderr) == (141, "")
    assert rows_in(warehouse, "consent_current") > 0  # the run is complete


def rows_in(warehouse: Path, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_the_default_home_has_the_shipped_instance_settings() -> None:
    shipped = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    home = yaml.safe_load(HOME_DAGSTER_YAML)
    assert {k: v for k, v in shipped.items() if k not in ("storage", "local_artifact_storage", "compute_logs")} == home
    # the UI's storage is the CLI's default home: beside the default warehouse
    assert shipped["storage"]["sqlite"]["base_dir"] == "data/warehouse/dagster_home"


# --- re-execution keeps the as-of -------------------------------------------------------------------------


def _job_from_env():
    """The job on the paths in T_* variables (a reconstructable job: execute_job re-executes from it)."""
    return build_definitions(
        PipelineResource(
            landing=os.environ["T_LANDING"],
            warehouse=os.environ["T_WAREHOUSE"],
            extracts=os.environ["T_EXTRACTS"],
            rules=str(ROOT / "rules"),
        )
    ).resolve_job_def(JOB)


def test_a_reexecution_runs_as_of_its_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run launched without an as-of (as from the UI) runs as of its start, kept as its tag; re-executing it
    later (a step of it, as from the UI) runs as of the same time, not the re-execution's "now"."""
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "w" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES)
    for key in [k for k in os.environ if k.startswith("CONSENT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("T_LANDING", str(landing))
    monkeypatch.setenv("T_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("T_EXTRACTS", str(extracts))
    job = reconstructable(_job_from_env)
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        parent = execute_job(job, instance=instance, run_config={}, raise_on_error=False)
        assert parent.success
        parent_run = instance.get_run_by_id(parent.run_id)
        assert parent_run is not None
        pinned = parent_run.tags[AS_OF_TAG]
        assert dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(pinned) < dt.timedelta(minutes=10)
        # re-executed later, with another "now" in the environment that it must not take
        monkeypatch.setenv("CONSENT_AS_OF", "2026-03-05T06:00:00Z")
        child = execute_job(
            job,
            instance=instance,
            reexecution_options=ReexecutionOptions(parent.run_id, step_selection=["marketing_extracts"]),
            raise_on_error=False,
        )
        assert child.success
        child_run = instance.get_run_by_id(child.run_id)
        assert child_run is not None and child_run.tags[AS_OF_TAG] == pinned
    manifest = json.loads((extracts / pinned[:10] / "manifest.json").read_text())
    assert manifest["run_id"] == child.run_id and manifest["as_of"] == pinned
    assert not (extracts / "2026-03-05").exists()
