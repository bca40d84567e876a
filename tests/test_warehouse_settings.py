"""The warehouse connection takes its memory cap and spill folder from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consent_pipeline.warehouse import Warehouse

UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def in_bytes(shown: str) -> float:
    """DuckDB's memory_limit as it displays it ('953.6 MiB', '3.7 GiB', ...) in bytes: the test compares amounts,
    not DuckDB's choice of unit or rounding."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", shown)
    assert m and m.group(2).upper() in UNITS, f"unreadable memory limit {shown!r}"
    return float(m.group(1)) * UNITS[m.group(2).upper()]


def test_memory_cap_and_spill_folder_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spill = tmp_path / "spill"
    monkeypatch.setenv("CONSENT_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(spill))
    with Warehouse(tmp_path / "w.duckdb").connect() as con:
        limit, folder = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert Path(folder).parent == spill  # the warehouse's own folder in it (tests/test_erasure_crash.py)
    assert in_bytes(limit) == pytest.approx(10**9, rel=0.01)  # 1 GB, shown rounded


def test_defaults_cap_memory_at_4gb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("CONSENT_TEMP_DIR", raising=False)
    with Warehouse(tmp_path / "w.duckdb").connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert in_bytes(limit) == pytest.approx(4 * 10**9, rel=0.02)  # 4 GB, shown rounded
