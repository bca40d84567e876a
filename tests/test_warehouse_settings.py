"""The warehouse connection takes its memory cap and spill folder from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_pipeline.warehouse import Warehouse


def test_memory_cap_and_spill_folder_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "spill"
    monkeypatch.setenv("CONSENT_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(spill))
    with Warehouse(tmp_path / "w.duckdb").connect() as con:
        limit, folder = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert Path(folder).parent == spill  # the warehouse's own folder in it (tests/test_erasure_crash.py)
    assert limit == "953.6 MiB"  # DuckDB shows 1 GB (10^9 bytes) in binary units


def test_defaults_cap_memory_at_4gb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("CONSENT_TEMP_DIR", raising=False)
    with Warehouse(tmp_path / "w.duckdb").connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit == "3.7 GiB"  # 4 GB
