"""The invariants hold on a real run, and each of these catches a planted violation (a data test that cannot
fail would prove nothing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core import audit, erasure, golden, permissions  # noqa: F401  (they register invariants)
from consent_pipeline.core.invariants import INVARIANTS, violations
from tests.golden.conftest import AS_OF
from tests.helpers import run

# invariant -> SQL that breaks it
PLANTS = {
    "one_permission_per_key": "INSERT INTO contact_permission SELECT * FROM contact_permission LIMIT 1",
    "one_current_state_per_key": "INSERT INTO consent_current SELECT * FROM consent_current LIMIT 1",
    "one_owner_per_contact_point": (
        "INSERT INTO contact_point_owner SELECT contact_point, contact_point_type, 'X9', household_id, rule "
        "FROM contact_point_owner LIMIT 1"
    ),
    "current_is_latest_history": "DELETE FROM consent_history WHERE valid_to IS NULL AND rowid IN "
    "(SELECT min(rowid) FROM consent_history WHERE valid_to IS NULL)",
    "opted_out_never_allowed": (
        "UPDATE contact_permission SET allowed = true, reason = 'express_consent' WHERE (contact_point, channel, "
        "purpose, brand) IN (SELECT (contact_point, channel, purpose, brand) FROM consent_current "
        "WHERE status = 'opt_out' AND purpose <> 'service.billing' LIMIT 1)"
    ),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.golden.conftest import DELIVERIES, land

    root = tmp_path_factory.mktemp("invariants")
    land(root / "landing", DELIVERIES)
    path = root / "w.duckdb"
    run(root / "landing", path, AS_OF)
    return path


def _violations(path: Path, name: str) -> int:
    con = duckdb.connect(str(path))
    try:
        return violations(con, name, limit=100).height
    finally:
        con.close()


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_invariant_holds_then_catches_a_planted_violation(warehouse: Path, tmp_path: Path, name: str) -> None:
    assert name in INVARIANTS
    assert _violations(warehouse, name) == 0
    broken = tmp_path / "broken.duckdb"
    shutil.copy(warehouse, broken)
    con = duckdb.connect(str(broken))
    try:
        changed = con.execute(PLANTS[name]).fetchall()[0][0]
    finally:
        con.close()
    assert changed >= 1, "the plant changed nothing"
    assert _violations(broken, name) >= 1
