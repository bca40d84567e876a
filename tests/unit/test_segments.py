"""Segments (semantics §7) at each boundary, on an in-memory DuckDB: core/marketing/segments.py's steps alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.marketing.segments import build_segments
from tests.unit.sqlcase import database, days_before, rows

pytestmark = pytest.mark.unit

AS_OF = dt.datetime(2026, 3, 1, 6)
BRAND = "lakeside_home"


def purchases(party: str, *ages_in_days: int, amount: float = 10.0) -> list[dict[str, Any]]:
    return [
        {"party_id": party, "brand": BRAND, "kind": "purchase", "occurred_at": days_before(AS_OF, d), "amount": amount}
        for d in ages_in_days
    ]


def segments(rules: Rules, activity: list[dict[str, Any]], parties: list[str]) -> dict[str, str]:
    con = database(
        rules,
        {
            "party_activity": activity
            or [{"party_id": "none", "brand": BRAND, "kind": "inquiry", "occurred_at": AS_OF, "amount": 0.0}],
            "party_brands": [{"party_id": p, "brand": BRAND} for p in parties],
        },
    )
    build_segments(con, AS_OF)
    return dict(rows(con, "SELECT * FROM s_segments", ["party_id", "segment"]))


@pytest.mark.parametrize(
    ("ages", "segment"),
    [
        ((1, 2, 3), "frequent_1"),  # three purchases in the window
        ((1, 2), "occasional"),
        ((365,), "occasional"),  # the window's first day: as_of - 365 days is still "in the last 365 days"
        ((366,), "lapsed_1"),
        ((545,), "lapsed_1"),
        ((546,), "lapsed_2"),
        ((730,), "lapsed_2"),
        ((731,), "lapsed_3"),
        ((1095,), "lapsed_3"),
        ((1096,), "lapsed_4"),
        ((), "prospect"),  # no purchase ever
        ((1, 2, 400), "occasional"),  # only two of the three are recent
    ],
)
def test_segment_boundaries(rules: Rules, ages: tuple[int, ...], segment: str) -> None:
    assert segments(rules, purchases("C1", *ages), ["C1"]) == {"C1": segment}


def test_frequent_quartiles_by_spend_ties_by_party_id(rules: Rules) -> None:
    activity = [
        p
        for i, party in enumerate(["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"])
        for p in purchases(party, 1, 2, 3, amount=float(100 - 10 * (i // 2)))
    ]
    got = segments(rules, activity, ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"])
    # spend pairs tie (C1=C2 > C3=C4 > ...): ties by party id, 1 is the highest
    assert got == {
        "C1": "frequent_1",
        "C2": "frequent_1",
        "C3": "frequent_2",
        "C4": "frequent_2",
        "C5": "frequent_3",
        "C6": "frequent_3",
        "C7": "frequent_4",
        "C8": "frequent_4",
    }


def test_thresholds_come_from_the_rules(rules: Rules) -> None:
    """policies.yaml `segments` drives the steps: a company with a 90-day window and two purchases for
    frequent sees other segments for the same purchases."""
    seg = rules.policies.segments.model_copy(
        update={"window_days": 90, "frequent_min_purchases": 2, "lapsed_days": (180, 270, 360)}
    )
    edited = Rules(
        rules.root,
        rules.company,
        rules.policies.model_copy(update={"segments": seg}),
        rules.mappings,
        rules.templates,
        _campaigns(rules),
        rules.files,
    )
    activity = purchases("C1", 10, 20) + purchases("C2", 100) + purchases("C3", 300) + purchases("C4", 361)
    got = segments(edited, activity, ["C1", "C2", "C3", "C4"])
    assert got == {"C1": "frequent_1", "C2": "lapsed_1", "C3": "lapsed_3", "C4": "lapsed_4"}
    assert segments(rules, activity, ["C1", "C2", "C3", "C4"]) == {
        "C1": "occasional",
        "C2": "occasional",
        "C3": "occasional",
        "C4": "occasional",
    }


def _campaigns(rules: Rules):
    from consent_pipeline.config.rules import CampaignsFile

    return CampaignsFile(campaigns=rules.campaigns)
