"""The opt-out service level (semantics §8, company.md: US, CA 10 business days; AU 5 business days; GB, EU,
OTHER 2 days) and sends after an opt-out, on an in-memory DuckDB: core/audit/audit.py's steps alone, over one
opt-out (O1, of EMAIL's email offers for lakeside_home) and the tables around it given directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.audit.audit import build_audit
from tests.unit.sqlcase import Sandbox, rows

pytestmark = pytest.mark.unit

EMAIL, HOME, OFFERS = "p1@example.com", "lakeside_home", "marketing.offers"
SEC = dt.timedelta(seconds=1)
MON, WED, FRI, SAT = (dt.datetime(2026, 2, d, 10) for d in (2, 4, 6, 7))
COUNTRY = {"US": "US", "CA": "CA", "GB": "GB", "EU": "FR", "AU": "AU", "OTHER": "CH"}


@pytest.fixture(scope="module")
def sandbox(rules: Rules) -> Sandbox:
    return Sandbox(rules)


def audit(
    sandbox: Sandbox,
    rules: Rules,
    *,
    region: str | None,
    opted_out: dt.datetime,
    as_of: dt.datetime,
    honoured: dt.datetime | None = None,
    current: bool = True,
    suppressed: bool = False,
    first_run: dt.datetime | None = None,
    sends: Sequence[dict[str, Any]] = (),
) -> Any:
    """One opt-out by P1 (of `region`; None: nobody owns the contact point) at `opted_out`; `honoured`: the
    as-of of an earlier run whose extract held it; `suppressed`: this run's extract holds it."""
    key = {
        "contact_point": EMAIL,
        "contact_point_type": "email",
        "channel": "email",
        "purpose": OFFERS,
        "brand": HOME,
    }
    optout = {**key, "status": "opt_out", "event_id": "O1", "source": "sendgrid", "event_ts": opted_out,
              "received_ts": opted_out + dt.timedelta(hours=2)}  # fmt: skip
    con = sandbox.given(
        {
            "consent_effects": [optout],
            "consent_current": [optout] if current else [],
            "consent_history": [{**optout, "valid_from": opted_out}] if current else [],
            "x_suppression": [
                {
                    "key_contact_point": EMAIL,
                    "contact_point": EMAIL,
                    "contact_point_sha256": "h",
                    "channel": "email",
                    "purpose": OFFERS,
                    "brand": HOME,
                }
            ]
            if suppressed
            else [],
            "contact_point_owner": [{"contact_point": EMAIL, "party_id": "P1"}] if region else [],
            "parties": [{"party_id": "P1", "region": region, "country": COUNTRY[region]}] if region else [],
            "run_log": [{"run_id": "first", "as_of": first_run or opted_out - dt.timedelta(days=30)}],
            "optout_honoured": [{"event_id": "O1", "contact_point": EMAIL, "honoured_at": honoured}]
            if honoured
            else [],
            "sends": list(sends),
            "erasure_register": [],
        }
    )
    build_audit(con, rules, as_of, "this", "'service.billing'")
    return con


def sla(con: Any) -> tuple:
    (got,) = rows(con, "SELECT * FROM a_optout_sla", ["region", "deadline", "state", "breached", "honoured_at"])
    return got


# region, opt-out time, deadline
DEADLINES = [
    ("GB", MON, dt.datetime(2026, 2, 4, 10)),
    ("EU", FRI, dt.datetime(2026, 2, 8, 10)),  # calendar days: a Sunday deadline
    ("OTHER", SAT, dt.datetime(2026, 2, 9, 10)),
    (None, MON, dt.datetime(2026, 2, 4, 10)),  # nobody owns it: the fallback region's (OTHER) deadline
    ("US", WED, dt.datetime(2026, 2, 18, 10)),
    ("US", FRI, dt.datetime(2026, 2, 20, 10)),
    ("US", SAT, dt.datetime(2026, 2, 20, 10)),  # a weekend day: counted from the next Monday
    ("CA", MON, dt.datetime(2026, 2, 16, 10)),
    ("AU", MON, dt.datetime(2026, 2, 9, 10)),
    ("AU", FRI + dt.timedelta(hours=5, minutes=30), dt.datetime(2026, 2, 13, 15, 30)),
]


@pytest.mark.parametrize(("region", "opted_out", "deadline"), DEADLINES)
def test_deadline(
    sandbox: Sandbox, rules: Rules, region: str | None, opted_out: dt.datetime, deadline: dt.datetime
) -> None:
    got = sla(audit(sandbox, rules, region=region, opted_out=opted_out, as_of=dt.datetime(2026, 3, 1)))
    assert got[:2] == (region or "OTHER", deadline)


DUE = dt.datetime(2026, 2, 4, 10)  # GB, opted out on Monday 2 February 10:00


@pytest.mark.parametrize(
    ("given", "state", "breached"),
    [
        ({"honoured": DUE, "as_of": DUE + dt.timedelta(days=5)}, "honoured", False),
        ({"honoured": DUE + SEC, "as_of": DUE + dt.timedelta(days=5)}, "honoured", True),
        ({"as_of": DUE}, "pending", False),
        ({"as_of": DUE + SEC}, "pending", True),
        ({"as_of": DUE, "suppressed": True}, "honoured", False),  # tonight's extract holds it: honoured now
        ({"as_of": DUE + SEC, "suppressed": True}, "honoured", True),
        ({"as_of": DUE + dt.timedelta(days=5), "current": False}, "superseded", False),
        ({"as_of": DUE + dt.timedelta(days=5), "first_run": DUE + SEC}, "before_first_run", False),
        ({"as_of": DUE + dt.timedelta(days=5), "first_run": DUE}, "pending", True),
    ],
)
def test_honoured_within_the_deadline(sandbox: Sandbox, rules: Rules, given: dict, state: str, breached: bool) -> None:
    got = sla(audit(sandbox, rules, region="GB", opted_out=MON, **given))
    assert got[2:4] == (state, breached)


def send(at: dt.datetime, purpose: str = OFFERS, ident: str = "S1") -> dict[str, Any]:
    return {
        "send_id": ident,
        "contact_point": EMAIL,
        "channel": "email",
        "brand": HOME,
        "purpose": purpose,
        "sent_at": at,
    }


@pytest.mark.parametrize(
    ("sent", "violations"),
    [
        ([send(DUE)], [("S1", "opted_out")]),  # the deadline has come: a send then is a violation
        ([send(DUE - SEC)], []),  # before the deadline the company still had time
        ([send(DUE, "service.billing")], []),  # only marketing
        ([send(DUE + dt.timedelta(days=30))], []),  # after the run
    ],
)
def test_sends_after_the_deadline(sandbox: Sandbox, rules: Rules, sent: list[dict], violations: list) -> None:
    con = audit(sandbox, rules, region="GB", opted_out=MON, as_of=DUE + dt.timedelta(days=5), sends=sent)
    assert rows(con, "SELECT * FROM a_violations", ["send_id", "reason"]) == violations
