"""A Spark run keeps the large derived tables as Parquet versions behind views (core/lib/parquet_tables.py): a
run killed after writing a new version, before its stage committed, leaves the last good state (the views name
the old versions), and the next run removes the versions no catalog names, so none holds a value erasure has
scrubbed; a run on DuckDB turns the views back into tables of the file. Real runs, one killed with SIGKILL."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.core.lib.engine import DUCKDB
from consent_pipeline.core.lib.sql import Step, temp_kind
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.engines.spark import PARQUET_TABLES, SparkEngine
from tests.erasure_disk import land_before_erasure, land_erasure, parquet_hits, table_hits
from tests.faults import cli_run, kill, start_paused, wait_for_pause
from tests.helpers import run

ERASING = "2026-02-20T06:00:00Z"
ALL = os.environ.get("CONSENT_TEST_SPARK") == "all"
SPARK = {"CONSENT_ENGINE": "spark", "CONSENT_SPARK_MASTER": "local[2]"}
KIND = "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"


def _kind(con: duckdb.DuckDBPyConnection, table: str) -> str:
    return str(dict(con.execute(KIND).fetchall())[table])


def _state(warehouse: Path) -> tuple[dict[str, str], list[tuple[object, ...]], set[Path]]:
    """The kind of each Parquet-kept table, consent_current's rows, and the version folders on disk."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kinds = {t: k for t, k in con.execute(KIND).fetchall() if t in PARQUET_TABLES}
        current = con.execute("SELECT * FROM consent_current ORDER BY ALL").fetchall()
    root = parquet_tables.root_of(warehouse)
    folders = {v for t in root.iterdir() for v in t.iterdir()} if root.is_dir() else set()
    return kinds, current, folders


@pytest.mark.parametrize(
    "finish_on",
    [
        "duckdb",
        pytest.param(
            "spark",
            marks=pytest.mark.skipif(not ALL, reason="a third Spark run (about 30 s): scripts/test --spark-all"),
        ),
    ],
)
def test_versions_survive_a_kill_hold_no_erased_value_and_go_back_to_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finish_on: str
) -> None:
    """Night 1 on Spark: one version a table, holding her contact points in the clear. Night 2 (her erasure) on
    Spark, killed inside the golden commit once consent_current's new version is on disk: the views still read
    night 1's versions. Night 2 again, on Spark (`--spark-all`): the killed run's versions and night 1's are
    removed, and no Parquet file or table holds her data; then on DuckDB (night 2 again by default, else night
    3): the views are tables of the file again, the folder gone, and her data in none of them."""
    monkeypatch.setenv("CONSENT_ENGINE", "spark")  # the in-process runs (the CLI's get their own environment)
    monkeypatch.setenv("CONSENT_SPARK_MASTER", "local[2]")
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "wh" / "consent.duckdb", tmp_path / "x"
    land_before_erasure(landing)
    run(landing, warehouse, "2026-01-21T06:00:00Z", extracts)
    kinds, current, folders = _state(warehouse)
    assert kinds == dict.fromkeys(PARQUET_TABLES, "VIEW")
    assert len(folders) == len(PARQUET_TABLES) and current  # one version a table, superseded ones gone
    assert parquet_hits(parquet_tables.root_of(warehouse))  # the search sees her rows in the versions

    land_erasure(landing)
    proc = start_paused(landing, warehouse, extracts, ERASING, "golden:consent_current", env=SPARK)
    try:
        wait_for_pause(proc, "golden:consent_current")
    finally:
        kill(proc)
    time.sleep(1)  # the JVM ends when its Python parent is gone
    after_kill = _state(warehouse)
    assert after_kill[:2] == (kinds, current)  # the views read the last committed versions
    orphans = after_kill[2] - folders
    assert {p.parent.name for p in orphans} >= {"consent_current", "consent_history", "consent_effects"}

    as_of = ERASING
    if finish_on == "spark":
        run(landing, warehouse, ERASING, extracts)
        kinds, erased, folders = _state(warehouse)
        assert kinds == dict.fromkeys(PARQUET_TABLES, "VIEW") and erased != current
        assert len(folders) == len(PARQUET_TABLES) and not folders & (orphans | after_kill[2])
        assert parquet_hits(warehouse.parent) == []
        assert table_hits(warehouse) == []
        as_of = "2026-02-21T06:00:00Z"

    last = cli_run(landing, warehouse, extracts, as_of)  # on DuckDB
    assert last.returncode == 0, last.stdout + last.stderr
    kinds, again, folders = _state(warehouse)
    assert kinds == dict.fromkeys(PARQUET_TABLES, "BASE TABLE") and again != current
    assert not folders and not parquet_tables.root_of(warehouse).exists()
    assert table_hits(warehouse) == []


def test_a_step_list_reads_a_kept_table_from_its_version_files(tmp_path: Path) -> None:
    """With rows exchanged as files, a table kept as Parquet is not sent: Spark reads its version's files. Shown
    by a view the DuckDB side alone changed afterwards: Spark's result follows the files, not the view; and
    the engine's write of a table it does not keep as Parquet is a table of the file."""
    engine = SparkEngine("local[2]", driver_exchange_rows=0)
    con = duckdb.connect(str(tmp_path / "it's [wh].duckdb"))
    con.execute(
        "CREATE TEMP TABLE s AS SELECT 'p' || (i % 4) AS party_id, 'seg' || (i % 3) AS segment FROM range(30) t(i)"
    )
    with transaction(con):
        engine.write_table(con, "segments", "s")
        engine.write_table(con, "review_queue", "s")
    assert _kind(con, "segments") == "VIEW" and _kind(con, "review_queue") == "BASE TABLE"
    con.execute("CREATE OR REPLACE VIEW segments AS SELECT * FROM s LIMIT 0")  # not what the version holds
    step = Step("x_count", "SELECT segment, count(*) AS n FROM segments GROUP BY segment")
    engine.run_steps(con, [step])
    assert con.execute("FROM x_count ORDER BY ALL").fetchall() == [("seg0", 10), ("seg1", 10), ("seg2", 10)]
    con.close()


def test_a_result_written_whole_becomes_the_version_the_executors_wrote(tmp_path: Path) -> None:
    """A step whose result the stage writes whole (`writes`) is written by the executors as the table's next
    version: no row comes back to DuckDB, the write adopts their files, and the table reads as DuckDB's own
    run of the step, with its column types; the step's view reads the same files where they went."""
    engine = SparkEngine("local[2]", driver_exchange_rows=0)
    step = Step("s_segments", "SELECT party_id, CAST(n AS INTEGER) AS n, since, n % 2 = 0 AS even FROM src")
    source = (
        "CREATE TEMP TABLE src AS SELECT 'p' || (i % 7) AS party_id, i AS n, TIMESTAMP '2026-01-01' + "
        "i * INTERVAL 1 HOUR AS since FROM range(40) t(i)"
    )
    expected = duckdb.connect()
    expected.execute(source)
    DUCKDB.run_steps(expected, [step])
    want = expected.execute("FROM s_segments ORDER BY ALL").fetchall()
    want_types = expected.execute("DESCRIBE s_segments").fetchall()
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(source)
    engine.run_steps(con, [step], writes={"s_segments": "segments"})
    assert con.execute("FROM s_segments ORDER BY ALL").fetchall() == want  # a view over the executors' files
    with transaction(con):
        engine.write_table(con, "segments", "s_segments")
    files, rows = parquet_tables.kept(con)["segments"]
    assert rows == 40 and all(f.name.startswith("part-") for f in files)  # Spark's files, not a DuckDB copy
    assert con.execute("FROM segments ORDER BY ALL").fetchall() == want
    assert con.execute("DESCRIBE segments").fetchall() == want_types
    assert con.execute("FROM s_segments ORDER BY ALL").fetchall() == want  # the step's view followed the files
    exchange = engine.exchange_folder()
    assert exchange is not None and not any((exchange / "pending").iterdir())
    con.close()


def test_a_scoped_write_is_made_by_the_executors_from_the_version_in_force(tmp_path: Path) -> None:
    """A night's scope replaced in a table kept as Parquet: the executors read the version in force from its
    files, keep the rows the scope does not select (a row whose key is NULL included, as a DELETE keeps it), add
    the new rows and write the next version (Spark's part files, not a DuckDB copy); the table reads as DuckDB's
    own scoped write of the same rows does, with its column types."""
    old = (
        "CREATE TEMP TABLE s AS SELECT CASE WHEN i = 0 THEN NULL ELSE 'p' || (i % 4) END AS party_id, "
        "'seg' || (i % 3) AS segment, i AS n, TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR AS since FROM range(30) t(i)"
    )
    new = "CREATE TEMP TABLE s2 AS SELECT 'p1' AS party_id, 'new' AS segment, 100 AS n, NULL::TIMESTAMP AS since"
    scope = "CREATE TEMP TABLE scope AS SELECT 'p1' AS party_id UNION ALL SELECT 'p2'"
    where = "party_id IN (SELECT party_id FROM scope)"
    expected = duckdb.connect()
    for sql in (old, new, scope):
        expected.execute(sql)
    DUCKDB.write_table(expected, "segments", "s")
    DUCKDB.write_table(expected, "segments", "s2", where)
    want = expected.execute("FROM segments ORDER BY ALL").fetchall()
    assert len(want) == 30 - 15 + 1 and (None, "seg0", 0, dt.datetime(2026, 1, 1)) in want

    engine = SparkEngine("local[2]", driver_exchange_rows=0)
    con = duckdb.connect(str(tmp_path / "it's [wh] {x}.duckdb"))
    for sql in (old, new, scope):
        con.execute(sql)
    with transaction(con):
        engine.write_table(con, "segments", "s")  # a DuckDB copy: the first version
    with transaction(con):
        engine.write_table(con, "segments", "s2", where)
    files, rows = parquet_tables.kept(con)["segments"]
    assert rows == len(want) and files and all(f.name.startswith("part-") for f in files)
    assert con.execute("FROM segments ORDER BY ALL").fetchall() == want
    assert con.execute("DESCRIBE segments").fetchall() == expected.execute("DESCRIBE segments").fetchall()
    assert temp_kind(con, "next_segments") is None  # the step's view went with the write
    con.close()
