"""A night with no new file still changes a party's permissions when time alone changes them: a purchase's
implied-consent window that ends between the two as-ofs, and a purchase dated between them (a source time may
lie up to a day after its delivery, feeds.md: it counts from the first as-of after it). An incremental night
computes a party's activity and brands only for the parties in its scope (core/permissions/permission_scope.py),
so these two must be in it: the night equals a whole run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.helpers import rows, run, table_hash
from tests.permissions.world import World, add_months, iso, utc

NIGHT_1 = utc("2026-02-28T06:00:00Z")  # four hours after the World's delivery
NIGHT_2 = utc("2026-03-02T06:00:00Z")
ENERGY, OFFERS = "lakeside_energy", "marketing.offers"
CA_IMPLIED_MONTHS = 24  # rules/templates.yaml implied_consent.purchase_months (CASL: two years)


def _email_offers(warehouse: Path, party_id: str) -> tuple[bool, str]:
    found = rows(
        warehouse,
        "SELECT allowed, reason FROM contact_permission WHERE party_id = ? AND channel = 'email' AND purpose = ?"
        " AND brand = ?",
        [party_id, OFFERS, ENERGY],
    )
    assert len(found) == 1, found
    return bool(found[0][0]), str(found[0][1])


def test_a_night_with_nothing_new_ends_and_starts_purchase_windows(tmp_path: Path) -> None:
    world = World()
    for registry in ("us_ftc", "ca_dncl", "uk_tps", "au_dncr"):
        world.registry(registry, utc("2026-02-26T03:00:00Z"), [])
    # a purchase whose two years end between the nights, and one dated between them (delivered before both)
    ending = world.customer("C-WINDOW-END", "CA", ENERGY)
    world.txn(ending, ENERGY, "purchase", add_months(NIGHT_1, -CA_IMPLIED_MONTHS) + dt.timedelta(hours=12))
    starting = world.customer("C-WINDOW-START", "CA", ENERGY)
    assert world.delivery < NIGHT_1
    world.txn(starting, ENERGY, "purchase", world.delivery + dt.timedelta(hours=18))
    landing = world.write(tmp_path / "landing")

    nightly = tmp_path / "nightly" / "w.duckdb"
    run(landing, nightly, iso(NIGHT_1))
    assert _email_offers(nightly, ending.party_id) == (True, "implied_consent")
    assert _email_offers(nightly, starting.party_id) == (False, "no_consent")

    second = run(landing, nightly, iso(NIGHT_2))
    assert second.figures["permission_scope"] > 0, "the second night's permissions were not incremental"
    assert _email_offers(nightly, ending.party_id) == (False, "no_consent")
    assert _email_offers(nightly, starting.party_id) == (True, "implied_consent")

    whole = tmp_path / "whole" / "w.duckdb"
    run(landing, whole, iso(NIGHT_2))
    tables = ("contact_permission", "party_activity", "party_brands", "segments", "suppression")
    assert [t for t in tables if table_hash(nightly, t) != table_hash(whole, t)] == []
