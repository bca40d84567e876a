"""A shared exchange folder (CONSENT_SPARK_EXCHANGE, for a cluster whose executors mount a folder the pipeline
process also reaches): the step lists' rows and the connectors' batches go there as files instead of through
Spark's driver, give the same results, and a folder that is not there stops the run with one line."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import duckdb
import pytest
from pyspark import cloudpickle

from consent_pipeline.core.lib.engine import DUCKDB
from consent_pipeline.core.lib.sql import Step
from consent_pipeline.engines.spark import SparkEngine, SparkUnavailable, exchange_name
from tests.acceptance.test_scenarios import SCENARIOS
from tests.faults import ERROR, cli_run

cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEP = Step(
    "x_by_kind",
    "SELECT kind, count(*) AS n, max(seen_at) AS last_at FROM events GROUP BY kind",
)


def _files_beside(root: str, n: int) -> list[str]:
    """What an executor sees in the shared folder while its task runs: the process's folders there."""
    return sorted(str(p.relative_to(root)) for p in Path(root).glob(".spark-exchange.*/*"))


def _events(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TEMP TABLE events AS SELECT CASE WHEN i % 3 = 0 THEN 'opt_out' ELSE 'opt_in' END AS kind,"
        " TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR AS seen_at FROM range(50) t(i)"
    )


def test_rows_and_batches_go_through_the_shared_folder(tmp_path: Path) -> None:
    shared = tmp_path / "it's [shared] {x}"  # a quote, and what Spark's readers take for a pattern
    shared.mkdir()
    engine = SparkEngine("local[2]", driver_exchange_rows=0, exchange_in=shared)
    ours = shared / exchange_name(os.getpid())
    assert engine.exchange_folder() == ours
    seen = engine.map_tasks(functools.partial(_files_beside, str(shared)), [1, 2])
    # the executors wrote the tasks' results in this process's folder of the shared one
    assert all(any(p.startswith(f"{ours.name}/tasks") for p in listing) for listing in seen), seen
    rows = []
    for each in (DUCKDB, engine):
        con = duckdb.connect()
        _events(con)
        each.run_steps(con, [STEP])
        rows.append(con.sql(f"FROM {STEP.name} ORDER BY ALL").fetchall())
        con.close()
    assert rows[0] == rows[1] == [("opt_in", 33, rows[0][0][2]), ("opt_out", 17, rows[0][1][2])]
    assert list(ours.iterdir()) == []  # each list's and call's files are gone with it


def test_an_exchange_folder_that_is_not_there_stops_the_run_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    env = {"CONSENT_ENGINE": "spark", "CONSENT_SPARK_MASTER": "local[2]", "CONSENT_SPARK_EXCHANGE": str(missing)}
    landing = SCENARIOS / "household_ownership" / "landing"
    run = cli_run(landing, tmp_path / "w.duckdb", tmp_path / "x", "2026-03-01T06:00:00Z", env)
    assert run.returncode == 2  # checked before the run starts: nothing read, no Spark started
    errors = [line for line in run.stderr.splitlines() if line.startswith(ERROR)]
    assert len(errors) == 1 and "CONSENT_SPARK_EXCHANGE" in errors[0] and str(missing) in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not missing.exists()  # not made on this machine's disk, where executors would not see it


def test_a_missing_exchange_folder_raises_before_any_task(tmp_path: Path) -> None:
    engine = SparkEngine("local[2]", exchange_in=tmp_path / "none")
    with pytest.raises(SparkUnavailable, match="CONSENT_SPARK_EXCHANGE"):
        engine.map_tasks(str, [1])
