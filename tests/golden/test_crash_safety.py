"""A run killed while it writes the golden tables leaves the last good state, and the next run succeeds;
a second run started while one holds the warehouse stops at once with a clear message."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.faults import kill, run_args, start_paused, wait_for_pause
from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import edit, run, table_hash

GOLDEN = ["parties", "contact_point_owner", "consent_current", "consent_history"]


def test_sigkill_while_writing_golden_tables_keeps_last_good_state(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    good = {t: table_hash(warehouse, t) for t in GOLDEN}

    land(landing, DELIVERIES[4:])
    # two tables replaced, inside the transaction
    proc = start_paused(landing, warehouse, warehouse.parent / "x", AS_OF, "golden:consent_current")
    try:
        wait_for_pause(proc, "golden:consent_current")
    finally:
        kill(proc)
    assert {t: table_hash(warehouse, t) for t in GOLDEN} == good

    run(landing, warehouse, AS_OF)  # the next run succeeds and catches up
    fresh = tmp_path / "fresh.duckdb"
    run(landing, fresh, AS_OF)
    for table in GOLDEN:
        assert table_hash(warehouse, table) == table_hash(fresh, table), table


def test_second_run_stops_while_the_first_holds_the_warehouse(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES)
    first = start_paused(landing, warehouse, warehouse.parent / "x", AS_OF, "golden:parties")
    try:
        wait_for_pause(first, "golden:parties")
        second = subprocess.run(
            run_args(landing, warehouse, warehouse.parent / "x", AS_OF), capture_output=True, text=True, timeout=120
        )
    finally:
        kill(first)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"consent-pipeline: error: warehouse {warehouse} is locked by another run (pid {first.pid})"
    ]


def test_nights_killed_before_their_suppression_list_was_written_leave_the_next_a_complete_one(
    tmp_path: Path,
) -> None:
    """The suppression list is rebuilt only for the contact points the permissions noted as changed: a night
    killed after golden committed (before permissions did), then one killed after permissions committed
    (before the list was written), must leave the next night's list what a full run makes of the same data."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    before = table_hash(warehouse, "suppression")

    land(landing, DELIVERIES[4:])
    for point in ("permissions:contact_permission", "suppression:written"):
        proc = start_paused(landing, warehouse, warehouse.parent / "x", AS_OF, point)
        try:
            wait_for_pause(proc, point)
        finally:
            kill(proc)
        assert table_hash(warehouse, "suppression") == before, point

    outcome = run(landing, warehouse, AS_OF)
    assert outcome.figures["suppression_scope"] > 0, "the list was not recomputed incrementally"
    fresh = tmp_path / "fresh.duckdb"
    run(landing, fresh, AS_OF)
    assert table_hash(warehouse, "suppression") == table_hash(fresh, "suppression") != before


def test_a_build_state_no_run_writes_makes_the_readers_of_permission_changes_rebuild_whole(tmp_path: Path) -> None:
    """A suppression list and an audit whose recorded state claims a permissions build the warehouse does not
    hold (edited or damaged) are rebuilt whole, not trusted to be up to date."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    edit(warehouse, "UPDATE build_state SET upstream_seq = 999 WHERE stage IN ('suppression', 'audit')")
    land(landing, DELIVERIES[4:])
    outcome = run(landing, warehouse, AS_OF)
    assert outcome.figures["suppression_scope"] == -1 and outcome.figures["audit_scope"] == -1
    fresh = tmp_path / "fresh.duckdb"
    run(landing, fresh, AS_OF)
    assert table_hash(warehouse, "suppression") == table_hash(fresh, "suppression")


def test_identity_tables_edited_between_runs_are_mended_by_the_next_incremental_night(tmp_path: Path) -> None:
    """An incremental night writes only the owner rows and associations that differ from the last build's: it
    compares every column with what the warehouse holds, so rows edited, deleted or copied since (by hand or
    by damage) are put right, never kept, and the tables end as a full run's."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    edit(
        warehouse,
        "UPDATE contact_point_owner SET rule = 'edited', household_id = 'H-X' WHERE rowid = "
        "(SELECT min(rowid) FROM contact_point_owner)",
        "DELETE FROM contact_point_owner WHERE rowid = (SELECT max(rowid) FROM contact_point_owner)",
        "DELETE FROM party_contact_points WHERE rowid = (SELECT min(rowid) FROM party_contact_points)",
        "UPDATE party_contact_points SET contact_point_type = 'edited' WHERE rowid = "
        "(SELECT max(rowid) FROM party_contact_points)",
        "INSERT INTO party_contact_points VALUES ('X-1', 'planted@example.com', 'email')",
    )
    land(landing, DELIVERIES[4:])
    outcome = run(landing, warehouse, AS_OF)
    assert outcome.figures["golden_scope"] > 0, "the golden stage did not run incrementally"
    fresh = tmp_path / "fresh.duckdb"
    run(landing, fresh, AS_OF)
    for table in ("contact_point_owner", "party_contact_points"):
        assert table_hash(warehouse, table) == table_hash(fresh, table), table
