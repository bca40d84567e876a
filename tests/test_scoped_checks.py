"""Invariants checked on the rows tonight's builds replaced (core/lib/replaced.py) still find every violation:
in a replaced key's rows by looking at them, anywhere else because the fingerprints of the other rows no longer
match the last passing check's, which sends the check back to every row.

The warehouse checked is a second, incremental night's as it was just before its checks: the real one with
the first night's `check_fingerprints` put back (the only table a check writes), so the builds' rows and their
record of what they replaced are tonight's and the last passing check is the first night's. The check is run
on copies of it, edited or not.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.audit.invariant_registry import INVARIANTS, Checked, check
from consent_pipeline.core.golden.golden import HASHED
from consent_pipeline.core.lib import replaced
from consent_pipeline.generate.plan import DEFAULT_AS_OF
from tests.helpers import edit, rows, run, two_nights

# The generated data holds marketing sends after an opt-out on purpose (the audit must find them).
GENERATED = {"no_send_after_optout"}
NIGHT_1 = DEFAULT_AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
NIGHT_2 = (DEFAULT_AS_OF + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
OPEN_VERSION = (
    "SELECT min(h.rowid) FROM consent_history h JOIN consent_current c "
    "USING (contact_point, channel, purpose, brand, event_id) WHERE h.valid_to IS NULL AND {where}"
)


@dataclass(frozen=True)
class Case:
    table: str  # where the violation is planted
    column: str  # the key the build replaces rows by
    key: str  # the columns that make two rows one key (overwritten to make a duplicate)
    add: str  # a violation planted with one more row (or one less), `{where}` choosing the row
    keep_count: str  # one planted with as many rows as before ("" : the duplicate made by overwriting a key)


CASES = {
    "one_permission_per_key": Case(
        "contact_permission",
        "party_id",
        "contact_point, channel, purpose, brand",
        "INSERT INTO contact_permission SELECT * FROM contact_permission "
        "WHERE rowid = (SELECT min(rowid) FROM contact_permission WHERE {where})",
        "",
    ),
    "one_current_state_per_key": Case(
        "consent_current",
        "contact_point",
        "channel, purpose, brand",
        "INSERT INTO consent_current SELECT * FROM consent_current "
        "WHERE rowid = (SELECT min(rowid) FROM consent_current WHERE {where})",
        "",
    ),
    "current_is_latest_history": Case(
        "consent_current",
        "contact_point",
        "",
        f"DELETE FROM consent_history WHERE rowid = ({OPEN_VERSION})",
        f"UPDATE consent_history SET valid_to = TIMESTAMP '2020-01-01' WHERE rowid = ({OPEN_VERSION})",
    ),
}


def _replaced(case: Case, replaced_key: bool, alias: str = "") -> str:
    """A condition on the key column: a key the last build replaced, or one it kept."""
    keys = f"(SELECT key_hash FROM replaced_keys WHERE table_name = '{case.table}')"
    return f"hash({alias}{case.column}) {'IN' if replaced_key else 'NOT IN'} {keys}"


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated world's first night, and its second (incremental, a few hundred parties touched)."""
    root = tmp_path_factory.mktemp("scoped")
    base, both = two_nights(root, 0.02, 5, 0.004)
    first, second = root / "night-1" / "w.duckdb", root / "night-2" / "w.duckdb"
    run(base, first, NIGHT_1, failing_checks=GENERATED)
    shutil.copytree(first.parent, second.parent)
    run(both, second, NIGHT_2, failing_checks=GENERATED)
    return {"night_1": first, "night_2": second, "both": both}


def _before_checks(nights: dict[str, Path], tmp_path: Path) -> Path:
    """The second night as it was before its checks ran: the first night's check records put back."""
    warehouse = _copy(nights["night_2"], tmp_path)
    edit(
        warehouse,
        f"ATTACH '{nights['night_1']}' AS first (READ_ONLY)",
        "DELETE FROM check_fingerprints",
        "INSERT INTO check_fingerprints SELECT * FROM first.check_fingerprints",
    )
    return warehouse


def _copy(warehouse: Path, tmp_path: Path) -> Path:
    shutil.copytree(warehouse.parent, tmp_path / "w")
    return tmp_path / "w" / warehouse.name


def _check(warehouse: Path, name: str) -> Checked:
    con = duckdb.connect(str(warehouse))
    try:
        return check(con, INVARIANTS[name], limit=100)
    finally:
        con.close()


def _plant(warehouse: Path, case: Case, replaced_key: bool, keep_count: bool) -> None:
    where = _replaced(case, replaced_key, "c." if case.add.startswith("DELETE FROM consent_history") else "")
    if not keep_count:
        edit(warehouse, case.add.format(where=where))
    elif case.keep_count:
        edit(warehouse, case.keep_count.format(where=where))
    else:  # a row's key made another row's of the same key column value: as many rows as before
        first, second = rows(
            warehouse,
            f"SELECT rowid, {case.key} FROM {case.table} WHERE {case.column} = (SELECT min({case.column}) "
            f"FROM {case.table} WHERE {where} GROUP BY ALL HAVING count(*) > 1) ORDER BY rowid LIMIT 2",
        )
        cols = [c.strip() for c in case.key.split(",")]
        values = ", ".join(f"{c} = '{v}'" for c, v in zip(cols, second[1:], strict=True))
        edit(warehouse, f"UPDATE {case.table} SET {values} WHERE rowid = {first[0]}")


SCOPED = "rows of the keys the last build replaced"


NAMES = sorted(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_the_night_replaced_some_keys_and_kept_others(nights: dict[str, Path], name: str) -> None:
    warehouse = nights["night_2"]
    case = CASES[name]
    found = rows(
        warehouse,
        f"SELECT count(*) FILTER (WHERE {_replaced(case, True)}) > 0, "
        f"count(*) FILTER (WHERE {_replaced(case, False)}) > 0 FROM (SELECT DISTINCT {case.column} FROM {case.table})",
    )
    assert found == [(True, True)]


@pytest.mark.parametrize("name", NAMES)
def test_an_unedited_night_is_checked_on_the_replaced_rows_only(
    nights: dict[str, Path], tmp_path: Path, name: str
) -> None:
    warehouse = _before_checks(nights, tmp_path)
    checked = _check(warehouse, name)
    assert checked.violations.height == 0
    assert SCOPED in checked.rows_looked_at, checked.rows_looked_at
    # what the next night compares with: every table the invariant reads, as it passed
    scoped = INVARIANTS[name].scoped
    assert scoped is not None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table, hashed in scoped.hashed.items():
            assert replaced.passed(con, name, table) == replaced.sums(con, table, hashed), table
    finally:
        con.close()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("keep_count", [False, True], ids=["a row more or less", "as many rows"])
@pytest.mark.parametrize(
    ("replaced_key", "looked_at"),
    [(True, SCOPED), (False, "every row: rows outside the last build's keys changed")],
    ids=["in a replaced key: found among its rows", "in a kept key: the sums send the check to every row"],
)
def test_a_planted_violation_is_found(
    nights: dict[str, Path], tmp_path: Path, name: str, keep_count: bool, replaced_key: bool, looked_at: str
) -> None:
    warehouse = _before_checks(nights, tmp_path)
    _plant(warehouse, CASES[name], replaced_key=replaced_key, keep_count=keep_count)
    checked = _check(warehouse, name)
    assert looked_at in checked.rows_looked_at, checked.rows_looked_at
    assert checked.violations.height == 1
    # a failed check leaves no record: the next one looks at every row
    assert rows(warehouse, f"SELECT count(*) FROM check_fingerprints WHERE invariant = '{name}'") == [(0,)]


@pytest.mark.parametrize("name", NAMES)
def test_without_a_passing_record_the_check_looks_at_every_row(
    nights: dict[str, Path], tmp_path: Path, name: str
) -> None:
    warehouse = _before_checks(nights, tmp_path)
    edit(warehouse, "DELETE FROM check_fingerprints")
    checked = _check(warehouse, name)
    assert checked.rows_looked_at == "every row: no passing check recorded"
    assert checked.violations.height == 0


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE check_fingerprints SET key_sum = NULL",
        "ALTER TABLE check_fingerprints DROP COLUMN key_sum",
        "INSERT INTO check_fingerprints SELECT * FROM check_fingerprints",
        "UPDATE replaced_rows SET rows = NULL",
        "ALTER TABLE replaced_keys ALTER key_hash TYPE VARCHAR",
        "DROP TABLE replaced_rows",
    ],
)
def test_a_damaged_record_sends_the_check_to_every_row_and_is_written_again(
    nights: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    """A record edited or damaged between runs proves nothing: the check looks at every row, finds what is
    there, and writes a whole record for the next night (no run stopped by its own bookkeeping)."""
    name = "one_current_state_per_key"
    warehouse = _before_checks(nights, tmp_path)
    _plant(warehouse, CASES[name], replaced_key=False, keep_count=False)
    edit(warehouse, damage)
    checked = _check(warehouse, name)
    assert checked.rows_looked_at.startswith("every row"), checked.rows_looked_at
    assert checked.violations.height == 1
    edit(warehouse, "DELETE FROM consent_current WHERE rowid = (SELECT max(rowid) FROM consent_current)")
    assert _check(warehouse, name).violations.height == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert replaced.passed(con, name, "consent_current") == replaced.sums(
            con, "consent_current", HASHED["consent_current"]
        )
    finally:
        con.close()


def test_a_completed_night_records_what_passed(nights: dict[str, Path], tmp_path: Path) -> None:
    """Through the pipeline: the Dagster checks record their tables' fingerprints, and a whole rebuild drops the
    record of replaced rows (the next checks look at every row)."""
    con = duckdb.connect(str(nights["night_2"]), read_only=True)
    try:
        for name in CASES:
            scoped = INVARIANTS[name].scoped
            assert scoped is not None
            for table, hashed in scoped.hashed.items():
                assert replaced.passed(con, name, table) == replaced.sums(con, table, hashed), (name, table)
                assert replaced.removed(con, table) is not None, table
    finally:
        con.close()
    warehouse = _copy(nights["night_2"], tmp_path)
    run(nights["both"], warehouse, NIGHT_2, failing_checks=GENERATED, full_rebuild=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        left = [t for t in ("contact_permission", "consent_current", "consent_history") if replaced.removed(con, t)]
        assert left == []
    finally:
        con.close()
