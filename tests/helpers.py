"""Helpers for tests that run the whole pipeline (real Dagster materialisation, real DuckDB file)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import duckdb

from consent_pipeline.config import Settings
from consent_pipeline.core.audit.invariant_registry import BLOCKING
from consent_pipeline.run import RunOutcome, run_pipeline

ROOT = Path(__file__).resolve().parents[1]


def run(
    landing: Path,
    warehouse: Path,
    as_of: str,
    extracts: Path | None = None,
    rules: Path | None = None,
    confirm: tuple[str, ...] = (),
    failing_checks: Iterable[str] = (),
    full_rebuild: bool = False,
) -> RunOutcome:
    """Run the job; assert it succeeded and that the ERROR checks that failed are exactly `failing_checks`
    (none unless a test names them). A run expecting a blocking check to fail must not succeed."""
    settings = Settings.resolve(
        landing=landing,
        warehouse=warehouse,
        extracts=extracts or warehouse.parent / "extracts",
        rules=rules or ROOT / "rules",
        as_of=as_of,
        full_rebuild=full_rebuild or None,
        confirm_registry_snapshots=confirm,
    )
    outcome = run_pipeline(settings, quiet=True)
    assert_checks(outcome, failing_checks)
    return outcome


def assert_checks(outcome: RunOutcome, failing_checks: Iterable[str] = ()) -> None:
    """The run failed exactly the ERROR checks named (and succeeded unless one of them is blocking)."""
    expected = set(failing_checks)
    failed = {check for _, check, *_ in outcome.failed_checks}
    assert failed == expected, (
        f"ERROR checks failed: {sorted(failed - expected)}, expected to fail but did not: "
        f"{sorted(expected - failed)}\n{outcome.summary()}"
    )
    assert outcome.success != bool(expected & set(BLOCKING)), outcome.summary()


def rows(warehouse: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def table_hash(warehouse: Path, table: str, exclude: tuple[str, ...] = ()) -> str:
    """A content hash of a table (all rows, in a canonical order: row order is not part of the contract;
    columns except `exclude`)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in exclude]
        data = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
    finally:
        con.close()
    return hashlib.sha256(repr(data).encode()).hexdigest()


def write(landing: Path, source: str, delivery: str, name: str, content: str) -> Path:
    path = landing / source / delivery / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path
