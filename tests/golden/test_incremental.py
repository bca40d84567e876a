"""An incremental run (only the contact points and parties new data can have changed are recomputed) leaves
exactly what a full run over the same data leaves, for a next-day run and for one months later (when many
time limits have passed). The next day's deliveries include erasure requests (identity is then decided for
every contact point); the run months later gets them without (identity decided for the touched contact
points only)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.generate.plan import DEFAULT_AS_OF
from tests.helpers import INCREMENTAL_TABLES, calm_nights, rows, run, table_hash, two_nights

# The generated data holds marketing sends after an opt-out on purpose (the audit must find them).
GENERATED = {"no_send_after_optout"}


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("incremental")
    base, both = two_nights(root, 0.02, 3, 0.004)
    calm = calm_nights(root)  # the same without the next day's erasure requests
    warehouse = root / "base-run" / "w.duckdb"
    run(base, warehouse, _iso(DEFAULT_AS_OF), failing_checks=GENERATED)
    return {"root": root, "both": both, "calm": calm, "base_warehouse": warehouse}


@pytest.mark.parametrize(("days", "landing"), [(1, "both"), (200, "calm")])
def test_incremental_run_equals_a_full_run(world: dict[str, Path], days: int, landing: str) -> None:
    root, as_of = world["root"], _iso(DEFAULT_AS_OF + dt.timedelta(days=days))
    new = world[landing]
    inc = root / f"inc-{days}" / "w.duckdb"
    inc.parent.mkdir()
    shutil.copy(world["base_warehouse"], inc)
    # 200 days without a run after an extract: the next day's opt-outs are honoured months late, a breach
    # the audit reports (the full run below has no earlier extract that could have honoured them)
    late = GENERATED | ({"no_optout_breach"} if days > 1 else set())
    outcome = run(new, inc, as_of, failing_checks=late)
    assert outcome.figures["golden_scope"] > 0, "the golden stage did not run incrementally"
    if landing == "calm":
        assert outcome.figures["identity_scope"] > 0, "identity was decided for every contact point"
    else:  # an erasure changed: every contact point
        assert outcome.figures["identity_scope"] == -1
    assert outcome.figures["permission_scope"] > 0, "the permissions did not run incrementally"
    assert outcome.figures["permission_scope"] < outcome.figures["permissions"]
    assert 0 < outcome.figures["suppression_scope"] < outcome.figures["suppression"], "suppression rebuilt whole"
    assert outcome.figures["audit_scope"] > 0, "the audit was recomputed whole"

    full = root / f"full-{days}" / "w.duckdb"
    run(new, full, as_of, failing_checks=GENERATED)
    different = [t for t in INCREMENTAL_TABLES if table_hash(inc, t) != table_hash(full, t)]
    assert different == []

    # The audit's service levels depend on which nights honoured each opt-out, so they are compared with the
    # same night rebuilt whole from the same start instead.
    rebuilt = root / f"rebuilt-{days}" / "w.duckdb"
    rebuilt.parent.mkdir()
    shutil.copy(world["base_warehouse"], rebuilt)
    whole = run(new, rebuilt, as_of, failing_checks=late, full_rebuild=True)
    assert whole.figures["audit_scope"] == -1
    different = [
        t
        for t in ("optout_sla", "violations", "optout_honoured", "suppression", "party_activity", "party_brands")
        if table_hash(inc, t, exclude=("run_id",)) != table_hash(rebuilt, t, exclude=("run_id",))
    ]
    assert different == []


def test_a_run_with_nothing_new_recomputes_nothing(world: dict[str, Path], tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(world["base_warehouse"], warehouse)
    before = table_hash(warehouse, "contact_permission")
    outcome = run(world["root"] / "base", warehouse, _iso(DEFAULT_AS_OF), failing_checks=GENERATED)
    assert outcome.figures["golden_scope"] == 0
    assert outcome.figures["permission_scope"] == 0
    assert outcome.figures["suppression_scope"] == 0
    assert outcome.figures["audit_scope"] >= 0
    assert table_hash(warehouse, "contact_permission") == before


def test_an_opt_out_left_pending_is_judged_again_by_the_next_night(world: dict[str, Path], tmp_path: Path) -> None:
    """An opt-out no extract has honoured yet (as if last night's had not held it) is recomputed by the next
    night's audit even when nothing about its contact point changed: the night honours it, exactly as the same
    night rebuilt whole does."""
    nights = {}
    for label in ("incremental", "whole"):
        warehouse = tmp_path / label / "w.duckdb"
        warehouse.parent.mkdir()
        shutil.copy(world["base_warehouse"], warehouse)
        con = duckdb.connect(str(warehouse))
        try:
            event_id, point = con.execute(
                "SELECT event_id, contact_point FROM optout_sla WHERE state = 'honoured' ORDER BY ALL LIMIT 1"
            ).fetchall()[0]
            con.execute("DELETE FROM optout_honoured WHERE event_id = ? AND contact_point = ?", [event_id, point])
            con.execute(
                "UPDATE optout_sla SET honoured_at = NULL, state = 'pending', breached = false "
                "WHERE event_id = ? AND contact_point = ?",
                [event_id, point],
            )
        finally:
            con.close()
        outcome = run(
            world["root"] / "base",
            warehouse,
            _iso(DEFAULT_AS_OF),
            failing_checks=GENERATED,
            full_rebuild=label == "whole",
        )
        assert outcome.figures["audit_scope"] == (1 if label == "incremental" else -1)
        nights[label] = warehouse
    state = "SELECT state FROM optout_sla WHERE event_id = ? AND contact_point = ?"
    assert rows(nights["incremental"], state, [event_id, point]) == [("honoured",)]
    for table in ("optout_sla", "optout_honoured"):
        assert table_hash(nights["incremental"], table, exclude=("run_id",)) == table_hash(
            nights["whole"], table, exclude=("run_id",)
        ), table


def test_full_rebuild_is_available_and_agrees(world: dict[str, Path], tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(world["base_warehouse"], warehouse)
    before = {t: table_hash(warehouse, t) for t in ("consent_history", "contact_permission")}
    outcome = run(
        world["root"] / "base",
        warehouse,
        _iso(DEFAULT_AS_OF),
        tmp_path / "x",
        full_rebuild=True,
        failing_checks=GENERATED,
    )
    assert outcome.figures["golden_scope"] == -1 and outcome.figures["permission_scope"] == -1
    assert outcome.figures["suppression_scope"] == -1
    assert {t: table_hash(warehouse, t) for t in before} == before


def test_a_late_link_of_a_salesforce_individual_reaches_its_old_events(tmp_path: Path) -> None:
    """Consents naming an Individual arrive first (they wait); the Individual linking it to a customer comes
    a week later. The incremental run must apply the old consents, as a full run does."""
    from tests.golden.conftest import AS_OF, DELIVERIES, land

    individual = next(d for d in DELIVERIES if d[2].startswith("Individual_"))
    first = [d for d in DELIVERIES if d is not individual]
    later = (individual[0], "2026-02-27T020000Z", individual[2], individual[3])
    landing = tmp_path / "landing"
    land(landing, first)
    inc = tmp_path / "inc" / "w.duckdb"
    run(landing, inc, AS_OF)
    land(landing, [later])
    outcome = run(landing, inc, AS_OF)
    assert outcome.figures["golden_scope"] >= 0, "the second run was not incremental"
    full = tmp_path / "full" / "w.duckdb"
    run(landing, full, AS_OF)
    assert [t for t in INCREMENTAL_TABLES if table_hash(inc, t) != table_hash(full, t)] == []


def test_a_full_permissions_build_in_batches_of_parties_equals_one_batch(
    world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENT_PERMISSION_BATCH_PARTIES", "150")  # about ten batches in this world
    batched = tmp_path / "batched" / "w.duckdb"
    run(world["root"] / "base", batched, _iso(DEFAULT_AS_OF), failing_checks=GENERATED)
    assert table_hash(batched, "contact_permission") == table_hash(world["base_warehouse"], "contact_permission")
