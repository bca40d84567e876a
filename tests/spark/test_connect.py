"""The Spark engine against a Spark Connect endpoint (`sc://`): a real Connect server (the one pyspark ships,
started on a free port over local[1]) and the engine's remote path, where rows go to Spark and back as Arrow
through the client instead of through Parquet files.

One step list runs over the server: an empty input table and one with rows, both sent, the step's rows brought
back into DuckDB with DuckDB's types; once through the client, once as Parquet files in a shared exchange folder
(CONSENT_SPARK_EXCHANGE: the server reads and writes them at the same path). (An empty input failed every run
over Connect until 2026-12-07: the Connect client cannot infer a schema from no rows.) With
`scripts/test --spark-all`, two public scenarios also run whole through the CLI over the server and are compared
with DuckDB's runs, table by table and file by file (about 90 s each on 2 cores).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.acceptance.test_scenarios import SCENARIOS
from tests.faults import cli_run
from tests.spark.compare import CONTRACT_TABLES, DERIVED_TABLES, extract_differences, table_differences

ALL = os.environ.get("CONSENT_TEST_SPARK") == "all"
SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        pytest.skip("pyspark is not installed")
    home = Path(spec.origin).parent
    folder = tmp_path_factory.mktemp("connect")
    port = _free_port()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(home / "bin" / "spark-submit"),
            "--class",
            SERVER,
            "--master",
            "local[1]",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            f"spark.local.dir={folder}",
            "--conf",
            "spark.ui.enabled=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # its Python workers (the connectors' tasks) run this interpreter, which has the project installed
        env={**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable},
    )
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("the Spark Connect server did not start:\n" + (folder / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield f"sc://localhost:{port}"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# In a process of its own: this tier's process already holds a local session, and the engine keeps one session
# a process (as Spark allows one context a process).
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import duckdb
    from consent_pipeline.core.lib.sql import Step
    from consent_pipeline.engines.spark import SparkEngine

    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE nothing_yet (contact_point VARCHAR, seen_at TIMESTAMP, n BIGINT)")
    con.execute(
        "CREATE TEMP TABLE seen AS SELECT * FROM (VALUES ('a@example.com', TIMESTAMP '2026-03-01 06:00:00', 2), "
        "('b@example.com', TIMESTAMP '2026-03-02 07:30:00', 3)) t(contact_point, seen_at, n)"
    )
    step = Step(
        "joined",
        "SELECT s.contact_point, s.seen_at, s.n + coalesce(x.n, 0) AS n FROM seen s "
        "LEFT JOIN nothing_yet x USING (contact_point)",
        view=False,
    )
    # with a second argument: rows as Parquet files in that shared exchange folder, however few
    shared = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    SparkEngine(sys.argv[1], exchange_in=shared, driver_exchange_rows=0).run_steps(con, [step])
    print(con.sql("SELECT contact_point, seen_at, n FROM joined ORDER BY contact_point").fetchall())
    print(con.sql("SELECT column_type FROM (DESCRIBE joined)").fetchall())
    """
)


@pytest.mark.parametrize("exchange", [False, True], ids=["through-the-client", "exchange-folder"])
def test_rows_go_to_a_connect_server_and_back_an_empty_table_too(endpoint: str, tmp_path: Path, exchange: bool) -> None:
    script = tmp_path / "over_connect.py"
    script.write_text(SCRIPT, encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    args = [sys.executable, str(script), endpoint, *([str(shared)] if exchange else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows, types = done.stdout.strip().splitlines()[-2:]
    assert rows == (
        "[('a@example.com', datetime.datetime(2026, 3, 1, 6, 0), 2), "
        "('b@example.com', datetime.datetime(2026, 3, 2, 7, 30), 3)]"
    )
    assert types == "[('VARCHAR',), ('TIMESTAMP',), ('BIGINT',)]"
    assert list(shared.iterdir()) == []  # the process's folder there went with it


@pytest.mark.skipif(not ALL, reason="a scenario over Spark Connect takes about 90 s: scripts/test --spark-all")
@pytest.mark.parametrize("name", ["household_ownership", "regional_templates"])
def test_a_scenario_over_connect_equals_duckdb(endpoint: str, name: str, tmp_path: Path) -> None:
    folder = SCENARIOS / name
    as_of = str(yaml.safe_load((folder / "expect.yaml").read_text())["as_of"])
    runs = {
        engine: cli_run(
            folder / "landing",
            tmp_path / engine / "w.duckdb",
            tmp_path / engine / "x",
            as_of,
            {"CONSENT_ENGINE": engine, "CONSENT_SPARK_MASTER": endpoint} if engine == "spark" else {},
        )
        for engine in ("duckdb", "spark")
    }
    for run in runs.values():
        assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    duck, spark = tmp_path / "duckdb", tmp_path / "spark"
    assert table_differences(duck / "w.duckdb", spark / "w.duckdb", CONTRACT_TABLES + DERIVED_TABLES) == []
    assert extract_differences(duck / "x", spark / "x") == []
