"""The same pipeline on DuckDB and on Spark gives the same warehouse and extracts (issue 14).

Every public scenario, and a generated world over three nights (the second and third incremental), runs through the real
Dagster job in-process twice: with `engine=duckdb` and with `engine=spark` (local[2]; one Spark session for the
whole tier, as a process keeps it). Every contract table (outputs.md) and the derived tables later runs build
on must be equal row for row, with their column types; every extract file byte for byte.

A Spark run of a small scenario costs about 12 s (the connectors' tasks and some 40 Spark jobs of 0.2-0.3 s, run
interpreted and without adaptive re-planning: tests/spark/conf), the generated world's three nights on both
engines about 150 s: the whole of it about 5 minutes on 2 cores, part of `scripts/test`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from consent_pipeline.config import Settings
from consent_pipeline.core.lib.parquet_tables import root_of
from consent_pipeline.generate.plan import DEFAULT_AS_OF
from consent_pipeline.run import RunOutcome, run_pipeline
from tests.acceptance.test_scenarios import SCENARIOS, scenario_names
from tests.helpers import INCREMENTAL_TABLES, ROOT, calm_nights, two_nights
from tests.spark.compare import CONTRACT_TABLES, DERIVED_TABLES, extract_differences, table_differences

MASTER = "local[2]"
ENGINES = ("duckdb", "spark")


def _run(landing: Path, folder: Path, as_of: str, engine: str) -> RunOutcome:
    settings = Settings.resolve(
        landing=landing,
        warehouse=folder / "w.duckdb",
        extracts=folder / "x",
        rules=ROOT / "rules",
        as_of=as_of,
        engine=engine,
        spark_master=MASTER,
    )
    return run_pipeline(settings, quiet=True)


def _assert_same(duck: Path, spark: Path, a: RunOutcome, b: RunOutcome) -> None:
    assert a.success and b.success, f"{a.summary()}\n{b.summary()}"
    assert sorted(a.failed_checks) == sorted(b.failed_checks)
    assert table_differences(duck / "w.duckdb", spark / "w.duckdb", CONTRACT_TABLES + DERIVED_TABLES) == []
    assert extract_differences(duck / "x", spark / "x") == []


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_on_both_engines(name: str, tmp_path: Path) -> None:
    folder = SCENARIOS / name
    as_of = str(yaml.safe_load((folder / "expect.yaml").read_text())["as_of"])
    runs = {e: _run(folder / "landing", tmp_path / e, as_of, e) for e in ENGINES}
    _assert_same(tmp_path / "duckdb", tmp_path / "spark", runs["duckdb"], runs["spark"])


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated scale-0.05 world, and the same plus the next day's deliveries (scale 0.005)."""
    root = tmp_path_factory.mktemp("spark-world")
    base, both = two_nights(root, 0.05, 11, 0.005)
    return {"root": root, "base": base, "both": both, "calm": calm_nights(root)}


def test_generated_world_full_then_incremental_on_both_engines(world: dict[str, Path]) -> None:
    root = world["root"]
    first = {e: _run(world["base"], root / "night1" / e, _iso(DEFAULT_AS_OF), e) for e in ENGINES}
    _assert_same(root / "night1" / "duckdb", root / "night1" / "spark", first["duckdb"], first["spark"])
    # the next nights on each engine's own warehouse: only what the new deliveries can change is recomputed;
    # first without the next day's erasure requests (ownership decided for the touched contact points only),
    # then with them (every contact point)
    for night, landing, days in (("night2", "calm", 1), ("night3", "both", 2)):
        later: dict[str, RunOutcome] = {}
        before = "night1" if night == "night2" else "night2"
        for e in ENGINES:
            (root / night / e).mkdir(parents=True)
            shutil.copy(root / before / e / "w.duckdb", root / night / e / "w.duckdb")
            tables = root_of(root / before / e / "w.duckdb")  # a Spark run's Parquet tables go with the file
            if tables.is_dir():
                shutil.copytree(tables, root_of(root / night / e / "w.duckdb"))
            later[e] = _run(world[landing], root / night / e, _iso(DEFAULT_AS_OF + dt.timedelta(days=days)), e)
            figures = later[e].figures
            assert later[e].success, later[e].summary()
            assert figures.get("golden_scope", 0) > 0, f"{e}: the golden stage did not run incrementally: {figures}"
            assert 0 < figures.get("permission_scope", 0) < figures["permissions"], f"{e}: {figures}"
            assert (figures.get("identity_scope", -1) > 0) == (landing == "calm"), f"{e}: {figures}"
        _assert_same(root / night / "duckdb", root / night / "spark", later["duckdb"], later["spark"])
    # the Spark warehouse three nights on equals one DuckDB run over everything (incremental == full across
    # engines: tests/golden/test_incremental.py proves it on DuckDB alone)
    full = _run(world["both"], root / "full", _iso(DEFAULT_AS_OF + dt.timedelta(days=2)), "duckdb")
    assert full.success, full.summary()
    night3 = root / "night3" / "spark" / "w.duckdb"
    assert table_differences(night3, root / "full" / "w.duckdb", INCREMENTAL_TABLES) == []
