"""A killed Spark run leaves its scratch folder (shuffled and exchanged rows: personal data) beside the
warehouse, and the next run removes it: nothing of it outlives the run on any disk. The run is killed while the
first source's parsed batches, pickled by the executors, are in it."""

from __future__ import annotations

import time
from pathlib import Path

from tests.acceptance.test_scenarios import SCENARIOS
from tests.faults import cli_run, kill, start_paused, wait_for_pause

AS_OF = "2026-03-01T06:00:00Z"


def test_a_killed_spark_runs_scratch_is_removed_by_the_next_run(tmp_path: Path) -> None:
    landing = SCENARIOS / "household_ownership" / "landing"
    warehouse, extracts = tmp_path / "wh" / "w.duckdb", tmp_path / "x"
    env = {"CONSENT_ENGINE": "spark", "CONSENT_SPARK_MASTER": "local[2]"}
    proc = start_paused(landing, warehouse, extracts, AS_OF, "spark:tasks", env=env)
    try:
        wait_for_pause(proc, "spark:tasks")
        scratch = list(warehouse.parent.glob(".spark-scratch.*"))
        assert len(scratch) == 1 and any(p.is_file() for p in scratch[0].rglob("*")), scratch
    finally:
        kill(proc)
    time.sleep(1)  # the JVM ends when its Python parent is gone
    assert scratch[0].exists()  # nobody removed it: the process was killed
    run = cli_run(landing, warehouse, extracts, AS_OF)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not scratch[0].exists()


def test_a_killed_spark_runs_folder_in_the_shared_exchange_is_removed_by_the_next_run(tmp_path: Path) -> None:
    landing = SCENARIOS / "household_ownership" / "landing"
    warehouse, extracts, shared = tmp_path / "wh" / "w.duckdb", tmp_path / "x", tmp_path / "shared"
    shared.mkdir()
    elsewhere = shared / ".spark-exchange.another-host.1"  # a run on another machine: not this host's to judge
    elsewhere.mkdir()
    env = {"CONSENT_ENGINE": "spark", "CONSENT_SPARK_MASTER": "local[2]", "CONSENT_SPARK_EXCHANGE": str(shared)}
    proc = start_paused(landing, warehouse, extracts, AS_OF, "spark:tasks", env=env)
    try:
        wait_for_pause(proc, "spark:tasks")
        ours = [p for p in shared.glob(".spark-exchange.*") if p != elsewhere]
        assert len(ours) == 1 and any(p.suffix == ".pickle" for p in ours[0].rglob("*")), ours
        scratch = next(warehouse.parent.glob(".spark-scratch.*"))
        assert not any(p.suffix == ".pickle" for p in scratch.rglob("*"))  # the batches went to the shared one
    finally:
        kill(proc)
    time.sleep(1)
    assert ours[0].exists()
    run = cli_run(landing, warehouse, extracts, AS_OF, {"CONSENT_SPARK_EXCHANGE": str(shared)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert not ours[0].exists() and elsewhere.exists()
