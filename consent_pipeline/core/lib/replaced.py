"""Invariant checks on the rows a build replaced, the other rows proven unchanged by fingerprints.

An incremental build replaces the rows of some keys (permissions: every row of the parties in its scope; golden:
every consent row of the contact points in its scope). Before it writes them (`record_replaced`, inside the
build's transaction) it records which keys (`replaced_keys`, as 64-bit hashes: contact points are personal
data) and the count and exact sum of the hashes of the rows they select (`replaced_rows`). A check that passes records
the count and hash sum of each table it read (`check_fingerprints`). The next check computes the same over the
rows outside the replaced keys: when, for every table, count = passed count - replaced count and sum = passed
sum - replaced sum, those rows are the rows that passed less the replaced ones (an accidental change that keeps
both is as unlikely as a 64-bit hash collision), so an invariant whose violations lie within one key's rows
(`Scoped`) needs only the replaced keys' rows looked at. Anything else (no record, a whole build, a night
killed between build and check, a table edited or damaged between runs, a check that failed) leaves a record
missing or the sums different, and the check looks at every row: a fingerprint can only narrow a check it has
proven, never skip one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from consent_pipeline.core.lib.sql import text, warehouse_tables
from consent_pipeline.core.lib.transaction import transaction

log = logging.getLogger(__name__)

KEYS = "replaced_keys"  # table_name, key_hash: the keys whose rows the table's last incremental build replaced
ROWS = "replaced_rows"  # table_name, rows, key_sum: the rows those keys selected before the build's delete
FINGERPRINTS = "check_fingerprints"  # invariant, table_name, table_rows, key_sum: each table at the last pass

_DDL = {
    KEYS: "table_name VARCHAR, key_hash UBIGINT",
    ROWS: "table_name VARCHAR, rows BIGINT, key_sum HUGEINT",
    FINGERPRINTS: "invariant VARCHAR, table_name VARCHAR, table_rows BIGINT, key_sum HUGEINT",
}


@dataclass(frozen=True)
class Scoped:
    """How an invariant is checked on the replaced rows only. Its violations must lie within the rows of one
    value of `column` (the key its tables' builds replace rows by), so that unchanged rows outside the replaced
    keys can form no violation, alone or with a replaced row."""

    column: str  # contact_permission: party_id; the consent tables: contact_point
    hashed: Mapping[str, str]  # table -> every column of it the invariant reads, as the argument list of hash()
    sql: str  # the violations, each table named `{table}` (then a temporary table of its replaced keys' rows)


@dataclass(frozen=True)
class Sums:
    rows: int
    key_sum: int

    def __sub__(self, other: Sums) -> Sums:
        return Sums(self.rows - other.rows, self.key_sum - other.key_sum)


def _intact(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """The record table exists with the columns and types this code writes."""
    if table not in warehouse_tables(con):
        return False
    have = [f"{r[0]} {r[1]}" for r in con.execute(f"DESCRIBE {table}").fetchall()]
    return have == _DDL[table].split(", ")


def _ensure(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A record table to write to; one edited or damaged out of shape is started again empty (its checks then
    look at every row until they have passed again)."""
    if not _intact(con, table):
        con.execute(f"CREATE OR REPLACE TABLE {table} ({_DDL[table]})")


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Sums | None:
    """The one (count, sum) row a record query finds, or None: no row, several, or a NULL (a damaged record
    proves nothing)."""
    found = con.execute(sql).fetchall()
    if len(found) != 1 or found[0][0] is None or found[0][1] is None:
        return None
    return Sums(int(found[0][0]), int(found[0][1]))


def sums(con: duckdb.DuckDBPyConnection, relation: str, hashed: str) -> Sums:
    """Count and exact sum of the row hashes of a table or subquery."""
    rows, total = con.execute(f"SELECT count(*), coalesce(sum(hash({hashed})), 0) FROM {relation}").fetchall()[0]
    return Sums(int(rows), int(total))


def record_replaced(con: duckdb.DuckDBPyConnection, table: str, column: str, keys: str, hashed: str) -> str:
    """Record, before a build replaces the rows of `table` whose `column` is in query `keys` (inside the build's
    transaction), those keys and the count and hash sum of the rows they select; returns the condition that
    selects those rows, for the write that replaces them. `hashed` must be what the table's scoped invariants
    hash (a different list only makes their checks look at every row)."""
    for t in (KEYS, ROWS):
        _ensure(con, t)
        con.execute(f"DELETE FROM {t} WHERE table_name = {text(table)}")
    con.execute(f"INSERT INTO {KEYS} SELECT DISTINCT {text(table)}, hash(k) FROM ({keys}) AS q(k) WHERE k IS NOT NULL")
    # Summed over what the check's condition selects (`DELETE ... RETURNING` was 3-7x slower here, and at scale
    # 10 returned fewer rows than it deleted).
    started = time.perf_counter()
    gone = sums(con, f"(SELECT * FROM {table} WHERE {selected(column, [table])})", hashed)
    log.debug("record replaced %s: %.2fs", table, time.perf_counter() - started)
    con.execute(f"INSERT INTO {ROWS} VALUES ({text(table)}, {gone.rows}, {_huge(gone.key_sum)})")
    return f"{column} IN ({keys})"


def forget_replaced(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A build that rewrote `table` whole: its next check looks at every row."""
    for t in (KEYS, ROWS):
        if t in warehouse_tables(con):
            con.execute(f"DELETE FROM {t} WHERE table_name = {text(table)}")


def selected(column: str, tables: list[str]) -> str:
    """The condition on `column` for the rows of the keys the builds of `tables` replaced."""
    names = ", ".join(text(t) for t in tables)
    return f"hash({column}) IN (SELECT key_hash FROM {KEYS} WHERE table_name IN ({names}))"


def removed(con: duckdb.DuckDBPyConnection, table: str) -> Sums | None:
    """What the table's last incremental build replaced, or None (none recorded, or a damaged record)."""
    if not (_intact(con, ROWS) and _intact(con, KEYS)):
        return None
    return _one(con, f"SELECT rows, key_sum FROM {ROWS} WHERE table_name = {text(table)}")


def passed(con: duckdb.DuckDBPyConnection, invariant: str, table: str) -> Sums | None:
    """The table's fingerprint when the invariant last passed, or None (none recorded, or a damaged record)."""
    if not _intact(con, FINGERPRINTS):
        return None
    return _one(
        con,
        f"SELECT table_rows, key_sum FROM {FINGERPRINTS} WHERE invariant = {text(invariant)} "
        f"AND table_name = {text(table)}",
    )


def record_check(con: duckdb.DuckDBPyConnection, invariant: str, fingerprints: Mapping[str, Sums] | None) -> None:
    """Each table's fingerprint when the invariant passed, or (None: it failed) no record, so the next check
    looks at every row."""
    _ensure(con, FINGERPRINTS)
    with transaction(con, f"record check {invariant}"):
        record_fingerprints(con, invariant, fingerprints)


def record_fingerprints(con: duckdb.DuckDBPyConnection, name: str, fingerprints: Mapping[str, Sums] | None) -> None:
    """Replace the record `name` (an invariant, or a build's own) by these tables' fingerprints (inside the
    caller's transaction)."""
    _ensure(con, FINGERPRINTS)
    con.execute(f"DELETE FROM {FINGERPRINTS} WHERE invariant = {text(name)}")
    for table, fp in (fingerprints or {}).items():
        con.execute(f"INSERT INTO {FINGERPRINTS} VALUES ({text(name)}, {text(table)}, {fp.rows}, {_huge(fp.key_sum)})")


def _huge(n: int) -> str:
    return f"CAST('{int(n)}' AS HUGEINT)"
