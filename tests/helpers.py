"""Helpers for tests that run the whole pipeline (real Dagster materialisation, real DuckDB file)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb

from consent_pipeline.config import Settings, load_rules
from consent_pipeline.core.audit.invariant_registry import BLOCKING
from consent_pipeline.core.golden.golden import GOLDEN_TABLES
from consent_pipeline.generate import generate
from consent_pipeline.generate.plan import DEFAULT_AS_OF
from consent_pipeline.run import RunOutcome, run_pipeline

ROOT = Path(__file__).resolve().parents[1]

# The tables an incremental night must leave exactly as a full run over the same deliveries does (the audit's
# service levels excepted: they depend on which nights honoured each opt-out)
INCREMENTAL_TABLES = [
    *GOLDEN_TABLES,
    "contact_permission",
    "party_brands",
    "party_activity",
    "review_queue",
    "segments",
    "suppression",
    "violations",
    "erasure_register",
    "registry_status",
    "registry_snapshot_status",
]


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


def edit(warehouse: Path, *statements: str) -> None:
    """Run statements on a warehouse file between runs: the tests that edit or damage what a run left."""
    con = duckdb.connect(str(warehouse))
    try:
        for sql in statements:
            con.execute(sql)
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


def two_nights(root: Path, scale: float, seed: int, next_scale: float) -> tuple[Path, Path]:
    """A generated world (`root/base`, as of the generator's default), and the same plus the next day's
    deliveries (`root/both`; the next day's generated at `next_scale` with the next seed)."""
    rules = load_rules(ROOT / "rules")
    base, extra, both = root / "base", root / "extra", root / "both"
    generate(base, rules, scale=scale, seed=seed, as_of=DEFAULT_AS_OF)
    generate(extra, rules, scale=next_scale, seed=seed + 1, as_of=DEFAULT_AS_OF + dt.timedelta(days=1))
    for tree in (base, extra):
        for delivery in sorted(p for p in tree.glob("*/*") if p.is_dir()):
            target = both / delivery.parent.name / delivery.name
            if not target.exists():
                shutil.copytree(delivery, target)
    return base, both


# Sources whose deliveries can erase a contact point (a request; a Salesforce Individual's ShouldForget).
ERASING = ("erasure_requests", "salesforce_consent")


def calm_nights(root: Path) -> Path:
    """After `two_nights(root, ...)`: `root/calm`, the two nights' deliveries without the next day's own
    deliveries of the sources that can erase (a next night whose erasures are unchanged)."""
    later = {
        source: {p.name for p in (root / "extra" / source).iterdir()}
        - ({p.name for p in (root / "base" / source).iterdir()} if (root / "base" / source).is_dir() else set())
        for source in ERASING
        if (root / "extra" / source).is_dir()
    }
    calm = root / "calm"

    def skip(folder: object, names: list[str]) -> set[str]:
        return later.get(Path(str(folder)).name, set()) & set(names)

    shutil.copytree(root / "both", calm, ignore=skip)
    return calm


def write(landing: Path, source: str, delivery: str, name: str, content: str) -> Path:
    path = landing / source / delivery / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path
