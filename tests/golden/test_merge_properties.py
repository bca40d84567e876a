"""Golden consent properties (semantics §4) that only whole runs show: deliveries in any order over several runs
equal one run, a re-run changes nothing, a re-delivered snapshot is a duplicate, and the warehouse's as-of /
as-known macros answer from the deliveries' own times. The merge's order, tie and pending rules and the
macros' boundaries are unit cases (tests/unit/test_merge.py).

One run of the world is shared by the tests that only read it (`one_run`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import rows, run, table_hash

GOLDEN = [
    "parties",
    "contact_point_owner",
    "consent_current",
    "consent_history",
    "contact_permission",
    "suppression",
]


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world's warehouse after one run (read only by the tests that share it)."""
    base = tmp_path_factory.mktemp("merge_properties")
    land(base / "landing", DELIVERIES)
    run(base / "landing", base / "w.duckdb", AS_OF)
    return base / "w.duckdb"


def test_shuffled_deliveries_over_several_runs_equal_one_run(one_run: Path, tmp_path: Path) -> None:
    one = one_run

    deliveries = sorted({(s, d) for s, d, _, _ in DELIVERIES})
    random.Random(42).shuffle(deliveries)
    landing, many = tmp_path / "shuffled", tmp_path / "many" / "w.duckdb"
    for batch in (deliveries[:3], deliveries[3:6], deliveries[6:]):
        land(landing, [d for d in DELIVERIES if (d[0], d[1]) in batch])
        run(landing, many, AS_OF)

    for table in ("consent_current", "consent_history", "contact_point_owner", "contact_permission"):
        assert table_hash(many, table) == table_hash(one, table), table
    # and it is the state the rules say: the newer Mailchimp unsubscribe beats the late, older opt-in
    assert rows(
        one,
        "SELECT status, source FROM consent_current WHERE contact_point = 'ana.silva@example.co.uk' "
        "AND purpose = 'marketing.offers' AND brand = 'lakeside_home'",
    ) == [("opt_out", "mailchimp")]


def test_rerun_on_unchanged_landing_changes_nothing(world: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    extracts = tmp_path / "x"
    first = run(world, warehouse, AS_OF, extracts)
    before = {t: table_hash(warehouse, t) for t in GOLDEN}
    files = {p.name: p.read_bytes() for p in (extracts / "2026-03-01").glob("*.csv")}
    second = run(world, warehouse, AS_OF, extracts)
    assert second.figures["files"] == 0  # nothing new was read
    assert first.run_id != second.run_id
    assert {t: table_hash(warehouse, t) for t in GOLDEN} == before
    assert {p.name: p.read_bytes() for p in (extracts / "2026-03-01").glob("*.csv")} == files


def test_redelivered_snapshot_is_duplicate_not_new(one_run: Path) -> None:
    ledger = rows(
        one_run,
        "SELECT delivery, rows_read, rows_accepted, rows_duplicate FROM ingest_ledger "
        "WHERE source = 'mailchimp' AND source_file LIKE '%a1h0menews%' ORDER BY delivery",
    )
    assert ledger == [("2026-02-10T020000Z", 1, 1, 0), ("2026-02-25T020000Z", 1, 0, 1)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # at 02-07 the state was the 02-05 Salesforce opt-in, as everything known now says ...
        (
            "SELECT status, source FROM consent_as_of(TIMESTAMPTZ '2026-02-07 00:00:00+00') "
            "WHERE purpose = 'marketing.offers' AND brand = 'lakeside_home'",
            [("opt_in", "salesforce_consent")],
        ),
        # ... but on 02-15 the company could not know it yet: that opt-in arrived on 02-20
        (
            "SELECT status, source FROM consent_as_known(TIMESTAMPTZ '2026-02-07 00:00:00+00', "
            "TIMESTAMPTZ '2026-02-15 00:00:00+00') WHERE purpose = 'marketing.offers' AND brand = 'lakeside_home'",
            [],
        ),
        # the newsletter: known on 02-15 from Mailchimp (02-01), replaced once Salesforce's 02-08 opt-in arrived
        (
            "SELECT source, event_ts FROM consent_as_known(TIMESTAMPTZ '2026-03-01 00:00:00+00', "
            "TIMESTAMPTZ '2026-02-15 00:00:00+00') WHERE purpose = 'marketing.newsletter' AND brand = 'lakeside_home'",
            [("mailchimp", __import__("datetime").datetime(2026, 2, 1, 8))],
        ),
        (
            "SELECT source, event_ts FROM consent_as_known(TIMESTAMPTZ '2026-03-01 00:00:00+00', "
            "TIMESTAMPTZ '2026-02-21 00:00:00+00') WHERE purpose = 'marketing.newsletter' AND brand = 'lakeside_home'",
            [("salesforce_consent", __import__("datetime").datetime(2026, 2, 8, 9, 30))],
        ),
    ],
)
def test_as_of_and_as_known_differ_around_a_late_delivery(one_run: Path, query: str, expected) -> None:
    assert rows(one_run, query + " AND contact_point = 'ana.silva@example.co.uk'") == expected
