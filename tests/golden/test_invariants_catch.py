"""The invariants hold on a real run, and each of these catches a planted violation (a data test that cannot
fail would prove nothing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.audit.invariant_registry import INVARIANTS, violations
from tests.golden.conftest import AS_OF
from tests.helpers import run

FIRST = "rowid = (SELECT min(rowid) FROM {table})"

# invariant -> SQL that breaks it (every invariant has one: test_every_invariant_has_a_plant)
PLANTS = {
    "ledger_balances": "UPDATE ingest_ledger SET rows_read = rows_read + 1 WHERE "
    + FIRST.format(table="ingest_ledger"),
    "file_ingested_once": "INSERT INTO ingest_ledger SELECT * FROM ingest_ledger LIMIT 1",
    "landing_held_back": (
        "INSERT INTO landing_report BY NAME SELECT 'pos' AS source, '2026-03-01T020000Z' AS delivery, "
        "'pos/2026-03-01T020000Z/x.bin' AS source_file, 'unexpected_file' AS reason, 'planted' AS detail"
    ),
    "event_ids_unique": "INSERT INTO event_log SELECT * FROM event_log LIMIT 1",
    "quarantine_has_reason_and_raw": (
        "INSERT INTO quarantine BY NAME SELECT 'pos' AS source, 'pos/2026-03-01T020000Z/r.csv' AS source_file, "
        "1 AS source_record, 'bad_amount' AS reason, NULL AS raw"
    ),
    "erased_not_in_clear": (
        "INSERT INTO erasure_register BY NAME SELECT 'sha256:' || sha256(contact_point) AS contact_point, "
        "sha256(contact_point) AS contact_point_sha256, contact_point_type, TIMESTAMP '2026-02-28' AS erased_at "
        "FROM event_log WHERE contact_point NOT LIKE 'sha256:%' LIMIT 1"
    ),
    "one_permission_per_key": "INSERT INTO contact_permission SELECT * FROM contact_permission LIMIT 1",
    "one_current_state_per_key": "INSERT INTO consent_current SELECT * FROM consent_current LIMIT 1",
    "leaf_scopes_only": "UPDATE consent_current SET purpose = 'marketing' WHERE "
    + FIRST.format(table="consent_current"),
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
    "opted_out_suppressed": (
        "DELETE FROM suppression WHERE (key_contact_point, channel, brand, purpose) IN (SELECT (contact_point, "
        "channel, brand, purpose) FROM consent_current WHERE status = 'opt_out' AND purpose <> 'service.billing')"
    ),
    "no_optout_breach": "UPDATE optout_sla SET breached = true WHERE " + FIRST.format(table="optout_sla"),
    "no_send_after_optout": (
        "INSERT INTO violations BY NAME SELECT 'S1' AS send_id, contact_point, channel, brand, purpose, "
        "TIMESTAMP '2026-02-28' AS sent_at, 'after_opt_out' AS reason FROM consent_current LIMIT 1"
    ),
}


def test_every_invariant_has_a_plant() -> None:
    assert sorted(PLANTS) == sorted(INVARIANTS), "an invariant without a planted violation proves nothing"


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


@pytest.mark.parametrize("name", sorted(INVARIANTS))
def test_invariant_holds_then_catches_a_planted_violation(warehouse: Path, tmp_path: Path, name: str) -> None:
    assert name in PLANTS, f"no planted violation for {name}"
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
