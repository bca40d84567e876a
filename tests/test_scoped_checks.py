"""An invariant checked on the rows tonight's build replaced (core/lib/replaced.py) still finds every violation:
in a replaced party's rows by looking at them, anywhere else because the fingerprints of the other rows no
longer match the last passing check's, which sends the check back to every row.

The warehouse is the real one of a second, incremental night killed just before its check of
one_permission_per_key: the build has committed its rows and its record of what it replaced, and the last
passing check's fingerprint is the first night's. The check is then run on copies of it, edited or not.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.audit.invariant_registry import INVARIANTS, Checked, check
from consent_pipeline.core.lib import replaced
from consent_pipeline.core.permissions.permissions import KEY
from consent_pipeline.generate.plan import DEFAULT_AS_OF
from tests.faults import kill, start_paused, wait_for_pause
from tests.helpers import edit, rows, run, two_nights

NAME = "one_permission_per_key"
PAUSE = f"check:{NAME}"
REPLACED = "(SELECT key FROM replaced_keys WHERE table_name = 'contact_permission')"


# The generated data holds marketing sends after an opt-out on purpose (the audit must find them).
GENERATED = {"no_send_after_optout"}
NIGHT_1 = DEFAULT_AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
NIGHT_2 = (DEFAULT_AS_OF + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated world's first night run, and the landing of its second night (a few hundred parties)."""
    root = tmp_path_factory.mktemp("scoped")
    base, both = two_nights(root, 0.02, 5, 0.004)
    warehouse = root / "night-1" / "w.duckdb"
    run(base, warehouse, NIGHT_1, failing_checks=GENERATED)
    return {"root": root, "night_1": warehouse, "both": both}


@pytest.fixture(scope="module")
def before_check(nights: dict[str, Path]) -> Path:
    """The second night killed just before its check of one_permission_per_key."""
    warehouse = nights["root"] / "killed" / "w.duckdb"
    shutil.copytree(nights["night_1"].parent, warehouse.parent)
    proc = start_paused(nights["both"], warehouse, warehouse.parent / "x", NIGHT_2, PAUSE)
    try:
        wait_for_pause(proc, PAUSE)
    finally:
        kill(proc)
    return warehouse


def _copy(warehouse: Path, tmp_path: Path) -> Path:
    shutil.copytree(warehouse.parent, tmp_path / "w")
    return tmp_path / "w" / warehouse.name


def _check(warehouse: Path) -> Checked:
    con = duckdb.connect(str(warehouse))
    try:
        return check(con, INVARIANTS[NAME], limit=100)
    finally:
        con.close()


def _a_row(warehouse: Path, replaced_party: bool) -> str:
    """A condition selecting one permission row of a party the build replaced, or of one it did not."""
    where = f"party_id {'IN' if replaced_party else 'NOT IN'} {REPLACED}"
    found = rows(warehouse, f"SELECT min(rowid) FROM contact_permission WHERE {where}")[0][0]
    assert found is not None, f"no permission row with {where}"
    return f"rowid = {found}"


def test_the_night_replaced_some_parties_and_kept_others(before_check: Path) -> None:
    found = rows(
        before_check,
        f"SELECT count(*) FILTER (WHERE party_id IN {REPLACED}) > 0, "
        f"count(*) FILTER (WHERE party_id NOT IN {REPLACED}) > 0 "
        "FROM (SELECT DISTINCT party_id FROM contact_permission)",
    )
    assert found == [(True, True)]


def test_an_unedited_night_is_checked_on_the_replaced_rows_only(before_check: Path, tmp_path: Path) -> None:
    warehouse = _copy(before_check, tmp_path)
    checked = _check(warehouse)
    assert checked.violations.height == 0
    assert "rows of the keys the last build replaced" in checked.rows_looked_at, checked.rows_looked_at
    # the record the next night compares with: the whole table as it passed
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert replaced.passed(con, NAME) == replaced.sums(con, "contact_permission", KEY)
    finally:
        con.close()


def test_a_duplicate_in_a_replaced_party_is_found_among_the_replaced_rows(before_check: Path, tmp_path: Path) -> None:
    warehouse = _copy(before_check, tmp_path)
    row = _a_row(warehouse, replaced_party=True)
    edit(warehouse, f"INSERT INTO contact_permission SELECT * FROM contact_permission WHERE {row}")
    checked = _check(warehouse)
    assert "rows of the keys the last build replaced" in checked.rows_looked_at, checked.rows_looked_at
    assert checked.violations.height == 1
    assert rows(warehouse, f"SELECT count(*) FROM check_fingerprints WHERE invariant = '{NAME}'") == [(0,)]


@pytest.mark.parametrize("how", ["row copied", "key overwritten"])
def test_a_duplicate_outside_the_replaced_parties_sends_the_check_to_every_row(
    before_check: Path, tmp_path: Path, how: str
) -> None:
    warehouse = _copy(before_check, tmp_path)
    first, second = rows(
        warehouse,
        "SELECT rowid, contact_point, channel, purpose, brand FROM contact_permission WHERE party_id = ("
        f"SELECT min(party_id) FROM contact_permission WHERE party_id NOT IN {REPLACED}) ORDER BY rowid LIMIT 2",
    )
    if how == "row copied":  # one more row
        edit(warehouse, f"INSERT INTO contact_permission SELECT * FROM contact_permission WHERE rowid = {first[0]}")
    else:  # a row's key made another row's: as many rows as before
        point, channel, purpose, brand = second[1:]
        edit(
            warehouse,
            f"UPDATE contact_permission SET contact_point = '{point}', channel = '{channel}', "
            f"purpose = '{purpose}', brand = '{brand}' WHERE rowid = {first[0]}",
        )
    checked = _check(warehouse)
    assert checked.rows_looked_at.startswith("every row: rows outside"), checked.rows_looked_at
    assert checked.violations.height == 1


def test_without_a_passing_record_the_check_looks_at_every_row(before_check: Path, tmp_path: Path) -> None:
    warehouse = _copy(before_check, tmp_path)
    edit(warehouse, "DELETE FROM check_fingerprints")
    checked = _check(warehouse)
    assert checked.rows_looked_at == "every row: no passing check recorded"
    assert checked.violations.height == 0


def test_a_completed_night_records_what_passed(nights: dict[str, Path], tmp_path: Path) -> None:
    """Through the pipeline: the Dagster check records the table's fingerprint, and a whole rebuild drops the
    record of replaced rows (its next check looks at every row)."""
    warehouse = _copy(nights["night_1"], tmp_path)
    run(nights["both"], warehouse, NIGHT_2, failing_checks=GENERATED)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert replaced.passed(con, NAME) == replaced.sums(con, "contact_permission", KEY)
        assert replaced.removed(con, "contact_permission") is not None
    finally:
        con.close()
    run(nights["both"], warehouse, NIGHT_2, failing_checks=GENERATED, full_rebuild=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert replaced.removed(con, "contact_permission") is None
    finally:
        con.close()
