"""Settings are data: every environment variable and command-line value is parsed and checked before use, a
bad one stops the CLI with one line naming it (exit 2), and DuckDB gets values as parameters, never as SQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.config.settings import (
    DEFAULT_MEMORY_LIMIT,
    Settings,
    SettingsError,
    parse_size,
)
from consent_pipeline.warehouse import Warehouse
from tests.helpers import ROOT

CLI = str(Path(sys.executable).with_name("consent-pipeline"))
INJECTION = "4GB'; CREATE TABLE pwned(x INT); --"


def cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    return subprocess.run([CLI, *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=300)


def run_args(tmp_path: Path, *extra: str) -> list[str]:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    return [
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(tmp_path / "wh" / "w.duckdb"),
        "--extracts",
        str(tmp_path / "x"),
        "--rules",
        str(ROOT / "rules"),
        "--quiet",
        *extra,
    ]


def tables(warehouse: Path) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def test_an_injected_memory_limit_is_refused_before_anything_runs(tmp_path: Path) -> None:
    got = cli(run_args(tmp_path), {"CONSENT_MEMORY_LIMIT": INJECTION})
    assert got.returncode == 2
    assert got.stderr.splitlines() == [
        f"consent-pipeline: error: CONSENT_MEMORY_LIMIT={INJECTION!r}: must be a size such as 4GB, 512MB or 8GiB"
    ]
    assert not (tmp_path / "wh").exists()  # nothing opened, nothing created


def test_a_good_memory_limit_reaches_duckdb_as_a_value(tmp_path: Path) -> None:
    """The run's own connection gets exactly the parsed size; a run with it succeeds."""
    got = cli(run_args(tmp_path, "--as-of", "2026-03-01T06:00:00Z"), {"CONSENT_MEMORY_LIMIT": " 1.5 GiB "})
    assert got.returncode == 0, got.stderr
    warehouse = Warehouse(tmp_path / "wh" / "w.duckdb", memory_limit=parse_size(" 1.5 GiB "))
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "1.5 GiB"
    assert "pwned" not in tables(warehouse.path)


@pytest.mark.parametrize(
    ("env", "args", "line"),
    [
        (
            {"CONSENT_MEMORY_LIMIT": "lots"},
            [],
            "CONSENT_MEMORY_LIMIT='lots': must be a size such as 4GB, 512MB or 8GiB",
        ),
        ({"CONSENT_MEMORY_LIMIT": "1KB"}, [], "CONSENT_MEMORY_LIMIT='1KB': must be from 64 MB to 1024 TiB"),
        ({"CONSENT_PARSE_THREADS": "0"}, [], "CONSENT_PARSE_THREADS='0': must be from 1 to 256"),
        ({"CONSENT_PARSE_THREADS": "four"}, [], "CONSENT_PARSE_THREADS='four': must be a whole number from 1 to 256"),
        (
            {"CONSENT_PERMISSION_BATCH_PARTIES": "1e6"},
            [],
            "CONSENT_PERMISSION_BATCH_PARTIES='1e6': must be a whole number from 1 to 1,000,000,000",
        ),
        (
            {"CONSENT_FULL_REBUILD": "maybe"},
            [],
            "CONSENT_FULL_REBUILD='maybe': must be one of 1, true, yes, on, 0, false, no, off",
        ),
        (
            {"CONSENT_TEMP_DIR": "/tmp/a\nb"},
            [],
            "CONSENT_TEMP_DIR='/tmp/a\\nb': contains a control character or a line break",
        ),
        (
            {"CONSENT_ENGINE": "postgres"},
            [],
            "CONSENT_ENGINE='postgres': must be one of duckdb, spark",
        ),
        (
            {},
            ["--engine", "spark", "--spark-master", "local[2]; rm -rf /"],
            "--spark-master='local[2]; rm -rf /': must be a Spark master URL: local[*], local[N], spark://host:port, "
            "yarn, k8s://..., sc://host:port",
        ),
        (
            {},
            ["--as-of", "yesterday"],
            "--as-of='yesterday': not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z or 2026-03-01)",
        ),
        (
            {"CONSENT_AS_OF": "2026-02-30"},
            [],
            "CONSENT_AS_OF='2026-02-30': not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z or 2026-03-01)",
        ),
        (
            {},
            ["--as-of", "9999-12-31"],
            "--as-of='9999-12-31': must be from 1990-01-01 to a year after this machine's clock ({latest})",
        ),
        (
            {},
            ["--as-of", "1989-12-31T23:59:59Z"],
            "--as-of='1989-12-31T23:59:59Z': must be from 1990-01-01 to a year after this machine's clock ({latest})",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, env: dict[str, str], args: list[str], line: str
) -> None:
    got = cli(run_args(tmp_path, *args), env)
    latest = dt.datetime.now(dt.UTC) + dt.timedelta(days=366)
    assert got.returncode == 2
    assert got.stderr.splitlines() == ["consent-pipeline: error: " + line.format(latest=f"{latest:%Y-%m-%d}")]
    assert got.stdout == ""
    assert not (tmp_path / "wh").exists()


def test_generate_checks_its_values_too(tmp_path: Path) -> None:
    for args, line in [
        (["--scale", "nan"], "--scale='nan': must be above 0 and at most 1,000"),
        (["--scale", "-1"], "--scale='-1': must be above 0 and at most 1,000"),
        (["--seed", "-7"], "--seed='-7': must be a whole number from 0 to 9,223,372,036,854,775,807"),
        (
            ["--as-of", "yesterday"],
            "--as-of='yesterday': not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z or 2026-03-01)",
        ),
    ]:
        got = cli(["generate", "--out", str(tmp_path / "g"), "--rules", str(ROOT / "rules"), *args])
        assert got.returncode == 2, args
        assert got.stderr.splitlines() == [f"consent-pipeline: error: {line}"]
    assert not (tmp_path / "g").exists()


def test_settings_parse_typed_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith("CONSENT_")]:
        monkeypatch.delenv(key)
    s = Settings.resolve(landing=tmp_path, as_of="2026-03-01T07:00:00+01:00")
    assert s.as_of == dt.datetime(2026, 3, 1, 6)
    assert s.memory_limit == DEFAULT_MEMORY_LIMIT and s.temp_directory is None and not s.full_rebuild
    monkeypatch.setenv("CONSENT_MEMORY_LIMIT", "")  # empty: DuckDB's own default
    monkeypatch.setenv("CONSENT_PERMISSION_BATCH_PARTIES", "2_500_000")
    monkeypatch.setenv("CONSENT_PARSE_THREADS", " 3 ")
    monkeypatch.setenv("CONSENT_FULL_REBUILD", "Yes")
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(tmp_path / "spill"))
    s = Settings.resolve()
    assert (s.memory_limit, s.permission_batch_parties, s.parse_threads, s.full_rebuild) == (None, 2_500_000, 3, True)
    assert s.temp_directory == tmp_path / "spill"
    assert parse_size("8GB") == 8 * 10**9 and parse_size("512MiB") == 512 * 2**20
    with pytest.raises(SettingsError, match=r"^--landing='': is empty$"):
        Settings.resolve(landing="")


def test_a_warehouse_refuses_a_value_it_was_not_given_as_a_size(tmp_path: Path) -> None:
    """Warehouse objects made without settings read the environment through the same parser."""
    os.environ["CONSENT_MEMORY_LIMIT"] = INJECTION
    try:
        with pytest.raises(SettingsError, match="CONSENT_MEMORY_LIMIT"):
            Warehouse(tmp_path / "w.duckdb")
    finally:
        del os.environ["CONSENT_MEMORY_LIMIT"]
    assert not (tmp_path / "w.duckdb").exists()


def test_the_engine_setting_from_option_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_ENGINE", raising=False)
    monkeypatch.delenv("CONSENT_SPARK_MASTER", raising=False)
    assert (Settings.resolve().engine, Settings.resolve().spark_master) == ("duckdb", "")
    monkeypatch.setenv("CONSENT_ENGINE", "Spark")
    monkeypatch.setenv("CONSENT_SPARK_MASTER", "spark://spark-master:7077")
    assert (Settings.resolve().engine, Settings.resolve().spark_master) == ("spark", "spark://spark-master:7077")
    got = Settings.resolve(engine="duckdb", spark_master="local[2]")
    assert (got.engine, got.spark_master) == ("duckdb", "")  # a master means nothing to DuckDB
    for master in ("local", "local[*]", "local[16]", "yarn", "k8s://https://k8s:6443", "sc://connect:15002"):
        assert Settings.resolve(engine="spark", spark_master=master).spark_master == master


def test_spark_without_java_stops_before_anything_runs(tmp_path: Path) -> None:
    got = cli(run_args(tmp_path, "--engine", "spark"), {"PATH": "/nonexistent", "JAVA_HOME": ""})
    assert got.returncode == 2
    assert got.stderr.splitlines() == [
        "consent-pipeline: error: --engine spark needs Java 17 or 21 (java on the PATH, or JAVA_HOME; "
        "docs/scale-out.md)"
    ]
    assert not (tmp_path / "wh").exists()
