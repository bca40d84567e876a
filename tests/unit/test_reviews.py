"""The review queue (semantics §7, company.md: review interval 6 months), on an in-memory DuckDB:
core/permissions/reviews.py's steps alone, over reviews, party links, parties and events given directly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.permissions.reviews import build_review_queue
from tests.unit.sqlcase import Sandbox, add_months, rows

pytestmark = pytest.mark.unit

AS_OF = dt.datetime(2026, 3, 1, 6)
SEC = dt.timedelta(seconds=1)
PHONE = "+447700900111"
SIX_MONTHS = add_months(AS_OF, -6)


@pytest.fixture(scope="module")
def sandbox(rules: Rules) -> Sandbox:
    return Sandbox(rules)


def review(at: dt.datetime, party: str | None = "C1", ref: str | None = None) -> dict[str, Any]:
    return {"row_id": f"r-{at:%Y%m%d%H%M%S}", "party_id": party, "party_ref": ref, "reviewed_at": at}


def revocation(at: dt.datetime) -> dict[str, Any]:
    """A free-text SMS revocation from PHONE."""
    return {"event_id": "E1", "contact_point": PHONE, "contact_point_type": "phone", "channel": "sms",
            "purpose": "marketing", "brand": "*", "status": "opt_out", "basis": "revocation_free_text",
            "event_ts": at}  # fmt: skip


def queue(
    sandbox: Sandbox,
    rules: Rules,
    reviews: list[dict],
    party_type: str = "customer",
    events: Sequence[dict[str, Any]] = (),
    links: Sequence[dict[str, Any]] = (),
    as_of: dt.datetime = AS_OF,
) -> list[tuple]:
    con = sandbox.given(
        {
            "parties": [{"party_id": "C1", "party_type": party_type}],
            "reviews": reviews,
            "party_links": list(links),
            "consent_events": list(events),
            "contact_point_owner": [{"contact_point": PHONE, "party_id": "C1"}],
        }
    )
    build_review_queue(con, rules, as_of)
    return rows(con, "SELECT * FROM r_queue", ["party_id", "reason", "last_reviewed_at"])


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        ([], [("C1", "never_reviewed", None)]),
        ([review(SIX_MONTHS)], []),  # exactly 6 calendar months ago: still within the interval
        ([review(SIX_MONTHS - SEC)], [("C1", "review_overdue", SIX_MONTHS - SEC)]),
        ([review(SIX_MONTHS - SEC), review(AS_OF)], []),  # the latest review counts
        ([review(AS_OF + SEC)], [("C1", "never_reviewed", None)]),  # a review after the run is not yet one
        ([review(AS_OF, party=None, ref="0PK1")], []),  # named by a Salesforce Individual linked to C1
        ([review(AS_OF, party=None, ref="0PK9")], [("C1", "never_reviewed", None)]),  # not linked
    ],
)
def test_customer_review(sandbox: Sandbox, rules: Rules, reviews: list[dict], expected: list[tuple]) -> None:
    links = [{"row_id": "l1", "source_party_id": "0PK1", "party_id": "C1", "linked_at": AS_OF - SEC}]
    assert queue(sandbox, rules, reviews, links=links) == expected


def test_review_interval_at_a_month_end(sandbox: Sandbox, rules: Rules) -> None:
    """6 calendar months before 31 August 06:00 is 28 February 06:00 (there is no 31 February)."""
    edge = dt.datetime(2026, 8, 31, 6)
    feb28 = dt.datetime(2026, 2, 28, 6)
    assert queue(sandbox, rules, [review(feb28)], as_of=edge) == []
    assert queue(sandbox, rules, [review(feb28 - SEC)], as_of=edge) == [("C1", "review_overdue", feb28 - SEC)]


@pytest.mark.parametrize(
    ("party_type", "reviews", "events", "expected"),
    [
        ("prospect", [], [], []),  # prospects are not queued for never being reviewed
        ("prospect", [], [revocation(AS_OF)], [("C1", "free_text_revocation", None)]),
        ("prospect", [], [revocation(AS_OF + SEC)], []),
        ("customer", [review(AS_OF)], [revocation(AS_OF - SEC)], []),  # reviewed since
        (
            "customer",
            [review(AS_OF - SEC)],
            [revocation(AS_OF)],
            [("C1", "free_text_revocation", AS_OF - SEC)],
        ),
    ],
)
def test_free_text_revocations(
    sandbox: Sandbox, rules: Rules, party_type: str, reviews: list[dict], events: list[dict], expected: list
) -> None:
    assert queue(sandbox, rules, reviews, party_type, events) == expected
