"""The public acceptance scenarios, each run through the real CLI and checked with their check.py.

The scenarios live in ../shared/scenarios (the source of truth); a copy in tests/acceptance/scenarios lets a
clean clone run them too. Every check of every scenario must hold.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "scenarios"
SCENARIOS = SHARED if (SHARED / "check.py").exists() else HERE / "scenarios"
CLI = Path(sys.executable).with_name("consent-pipeline")

# Which kinds of check each scenario runs (None: all of them). Every public scenario now runs them all;
# the table stays so that a scenario added before its tables exist can be narrowed while it is built.


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "expect.yaml").exists())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", scenario_names())
def test_scenario(name: str, tmp_path: Path) -> None:
    folder = SCENARIOS / name
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    warehouse, extracts = tmp_path / "w.duckdb", tmp_path / "x"
    run = run_cli(
        "run",
        "--landing",
        str(folder / "landing"),
        "--warehouse",
        str(warehouse),
        "--extracts",
        str(extracts),
        "--as-of",
        str(expect["as_of"]),
        "--quiet",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    args = [
        sys.executable,
        str(SCENARIOS / "check.py"),
        str(folder),
        "--warehouse",
        str(warehouse),
        "--extracts",
        str(extracts),
    ]
    check = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
