"""A killed Spark run leaves its scratch folder beside the warehouse and its folder in the shared exchange
folder (shuffled and exchanged rows: personal data), and the next run removes them: nothing of it outlives the
run on any disk. The run is killed while the first source's parsed batches, pickled by the executors, are in the
exchange folder."""

from __future__ import annotations

import time
from pathlib import Path

from tests.acceptance.test_scenarios import SCENARIOS
from tests.faults import cli_run, kill, start_paused, wait_for_pause

AS_OF = "2026-03-01T06:00:00Z"


def test_a_killed_spark_runs_scratch_and_exchange_folders_are_removed_by_the_next_run(tmp_path: Path) -> None:
    """The run exchanges through a shared folder (CONSENT_SPARK_EXCHANGE): the batches are there, not in the
    scratch folder; the next run removes both of this host's folders and keeps another host's."""
    landing = SCENARIOS / "household_ownership" / "landing"
    warehouse, extracts, shared = tmp_path / "wh" / "w.duckdb", tmp_path / "x", tmp_path / "shared"
    shared.mkdir()
    elsewhere = shared / ".spark-exchange.another-host.1"  # a run on another machine: not this host's to judge
    elsewhere.mkdir()
    env = {"CONSENT_ENGINE": "spark", "CONSENT_SPARK_MASTER": "local[2]", "CONSENT_SPARK_EXCHANGE": str(shared)}
    proc = start_paused(landing, warehouse, extracts, AS_OF, "spark:tasks", env=env)
    try:
        wait_for_pause(proc, "spark:tasks")
        scratch = list(warehouse.parent.glob(".spark-scratch.*"))
        ours = [p for p in shared.glob(".spark-exchange.*") if p != elsewhere]
        assert len(scratch) == 1 and len(ours) == 1, (scratch, ours)
        assert any(p.suffix == ".pickle" for p in ours[0].rglob("*")), list(ours[0].rglob("*"))
        assert not any(p.suffix == ".pickle" for p in scratch[0].rglob("*"))
    finally:
        kill(proc)
    time.sleep(1)  # the JVM ends when its Python parent is gone
    assert scratch[0].exists() and ours[0].exists()  # nobody removed them: the process was killed
    run = cli_run(landing, warehouse, extracts, AS_OF, {"CONSENT_SPARK_EXCHANGE": str(shared)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert not scratch[0].exists() and not ours[0].exists() and elsewhere.exists()
