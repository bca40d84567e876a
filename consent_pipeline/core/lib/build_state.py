"""What each incremental stage's last build reflected, in one warehouse table (`build_state`, a row per
stage), and the two fingerprints it is compared by: the rules (the `ref_*` tables) and the stage's logic (a
hash of its SQL files and of the Python that generates SQL).

A stage whose recorded logic version or rules fingerprint differs from this run's rebuilds whole: a change
to a `.sql` file forces a full rebuild of what that logic built, with nothing to bump by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import duckdb

from consent_pipeline.core.lib.sql import warehouse_tables

TABLE = "build_state"

_TYPES = {
    "stage": "VARCHAR",
    "logic_version": "VARCHAR",
    "rules_fingerprint": "VARCHAR",
    "inputs_fingerprint": "VARCHAR",
    "as_of": "TIMESTAMP",
    "seq": "BIGINT",
    "full_seq": "BIGINT",
    "upstream_seq": "BIGINT",
    "recomputed": "BIGINT",
}


@dataclass(frozen=True)
class BuildState:
    stage: str  # golden, permissions, erasure
    logic_version: str
    rules_fingerprint: str | None = None
    inputs_fingerprint: str | None = None  # what the stage's inputs were (erasure: the register)
    as_of: dt.datetime | None = None
    seq: int | None = None  # this build's number (golden: each build; the changes it made carry it)
    full_seq: int | None = None  # the number of the last build that rebuilt whole
    upstream_seq: int | None = None  # the upstream build this one read (permissions: golden's seq)
    recomputed: int | None = None  # keys an incremental build recomputed; None: rebuilt whole (-1 in erasure)


def last_build(con: duckdb.DuckDBPyConnection, stage: str) -> BuildState | None:
    """The stage's last recorded build, or None (none yet, or a warehouse from before this table)."""
    if TABLE not in warehouse_tables(con):
        return None
    cols = ", ".join(_TYPES)
    rows = con.execute(f"SELECT {cols} FROM {TABLE} WHERE stage = $s", {"s": stage}).fetchall()
    if len(rows) != 1:
        return None
    return BuildState(**dict(zip(_TYPES, rows[0], strict=True)))


def record_build(con: duckdb.DuckDBPyConnection, state: BuildState) -> None:
    """Replace the stage's row (inside the stage's transaction, so it moves with what it describes)."""
    assert [f.name for f in fields(BuildState)] == list(_TYPES)
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(f'{c} {t}' for c, t in _TYPES.items())})")
    con.execute(f"DELETE FROM {TABLE} WHERE stage = $s", {"s": state.stage})
    values = ", ".join(f"CAST(${c} AS {t})" for c, t in _TYPES.items())
    con.execute(f"INSERT INTO {TABLE} VALUES ({values})", asdict(state))


def rules_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of every reference table loaded from the rules (ref_*), order-independent."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'ref\\_%' ESCAPE '\\' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    digest = hashlib.sha256()
    for name in names:
        rows = con.execute(
            f"SELECT coalesce(string_agg(CAST(t AS VARCHAR), chr(30) ORDER BY CAST(t AS VARCHAR)), '') FROM {name} t"
        ).fetchall()[0][0]
        digest.update(f"{name}\x1f{rows}\x1e".encode())
    return digest.hexdigest()


def logic_version(stage: str, files: Iterable[Path]) -> str:
    """`<stage>-<hash>`: a hash of the files that make up a stage's logic (its `.sql` files and the Python
    that generates SQL), by name and content. Any edit of one (a comment included) rebuilds the stage whole
    on the next run, which is always correct, only slower once."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(f"{path.name}\x1f".encode() + path.read_bytes() + b"\x1e")
    return f"{stage}-{digest.hexdigest()[:16]}"
