"""Merging by source time (semantics §3 "opt-outs from anyone", §4), on an in-memory DuckDB: core/golden/merge.py's
steps and its auditors' macros alone, over consent_events and the identity stage's outputs given directly.

P1 (a customer) owns EMAIL and PHONE; P2 (a customer) owns PHONE2 and is associated with EMAIL too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.golden.merge import STEPS, create_macros, scope_params
from consent_pipeline.core.lib.sql import run_steps
from tests.unit.sqlcase import Sandbox, rows

pytestmark = pytest.mark.unit

EMAIL, PHONE, PHONE2 = "p1@example.com", "+447700900111", "+447700900222"
HOME = "lakeside_home"
OFFERS, NEWSLETTER = "marketing.offers", "marketing.newsletter"
JAN, FEB, MAR, APR = (dt.datetime(2026, m, 1, 10) for m in (1, 2, 3, 4))
KEY = (EMAIL, "email", OFFERS, HOME)


def event(ident: str, status: str, at: dt.datetime, received: dt.datetime | None = None, **kw: Any) -> dict:
    """An event about EMAIL, email, offers, lakeside_home from the preference centre unless given."""
    return {
        "event_id": ident, "status": status, "event_ts": at, "received_ts": received or at,
        "source": "preference_centre", "basis": "express", "contact_point": EMAIL, "contact_point_type": "email",
        "channel": "email", "purpose": OFFERS, "brand": HOME, **kw,
    }  # fmt: skip


@pytest.fixture(scope="module")
def sandbox(rules: Rules) -> Sandbox:
    return Sandbox(rules)


def merge(sandbox: Sandbox, events: list[dict]) -> Any:
    con = sandbox.given(
        {
            "consent_events": events,
            "id_customers": [{"party_id": "P1"}, {"party_id": "P2"}],
            "id_owner": [
                {"contact_point": EMAIL, "contact_point_type": "email", "party_id": "P1"},
                {"contact_point": PHONE, "contact_point_type": "phone", "party_id": "P1"},
                {"contact_point": PHONE2, "contact_point_type": "phone", "party_id": "P2"},
            ],
            "id_party_points": [
                {"party_id": "P1", "contact_point": EMAIL, "contact_point_type": "email"},
                {"party_id": "P1", "contact_point": PHONE, "contact_point_type": "phone"},
                {"party_id": "P2", "contact_point": EMAIL, "contact_point_type": "email"},
                {"party_id": "P2", "contact_point": PHONE2, "contact_point_type": "phone"},
            ],
        }
    )
    run_steps(con, STEPS, scope_params(False))
    return con


def current(sandbox: Sandbox, events: list[dict]) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """(contact point, channel, purpose, brand) -> (status, event id) of consent_current."""
    con = merge(sandbox, events)
    got = rows(con, "SELECT * FROM m_current", ["contact_point", "channel", "purpose", "brand", "status", "event_id"])
    return {tuple(r[:4]): (r[4], r[5]) for r in got}


# --- the latest event_ts wins; ties: opt_out, then source priority, then the smallest event id -------------
# fmt: off
ORDER_CASES = [
    ("late-delivery-of-an-older-opt-in-loses",
     [event("E1", "opt_in", JAN, received=MAR), event("E2", "opt_out", FEB)], ("opt_out", "E2")),
    ("late-delivery-of-a-newer-event-wins",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB, received=MAR)], ("opt_in", "E2")),
    ("one-second-newer-wins",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", JAN + dt.timedelta(seconds=1))], ("opt_in", "E2")),
    ("tie-opt-out-beats-opt-in-whatever-the-source-and-id",
     [event("E1", "opt_in", JAN, source="erasure_requests"), event("E2", "opt_out", JAN, source="lead_lists")],
     ("opt_out", "E2")),
    ("tie-opt-out-beats-opt-in-whatever-the-delivery-order",
     [event("E1", "opt_out", JAN, received=JAN), event("E2", "opt_in", JAN, received=FEB)], ("opt_out", "E1")),
    ("tie-then-source-priority",
     [event("E1", "opt_in", JAN, source="mailchimp"), event("E2", "opt_in", JAN, source="call_centre")],
     ("opt_in", "E2")),
    ("tie-then-source-priority-for-opt-outs",
     [event("E1", "opt_out", JAN, source="lead_lists", basis="x"), event("E2", "opt_out", JAN, source="legacy")],
     ("opt_out", "E2")),
    ("tie-a-source-without-priority-comes-last",
     [event("E1", "opt_in", JAN, source="unlisted"), event("E2", "opt_in", JAN, source="lead_lists")],
     ("opt_in", "E2")),
    ("tie-then-the-smallest-event-id",
     [event("E2", "opt_in", JAN, basis="express_verbal"), event("E1", "opt_in", JAN)], ("opt_in", "E1")),
    ("tie-the-smallest-event-id-whatever-the-delivery-order",
     [event("E1", "opt_in", JAN, received=MAR), event("E2", "opt_in", JAN, received=JAN)], ("opt_in", "E1")),
    # the pending rule: a pending never replaces an opt_in; it replaces no state or an opt_out
    ("pending-alone", [event("E1", "pending", JAN)], ("pending", "E1")),
    ("pending-never-replaces-an-opt-in",
     [event("E1", "opt_in", JAN), event("E2", "pending", FEB)], ("opt_in", "E1")),
    ("pending-replaces-an-opt-out",
     [event("E1", "opt_out", JAN), event("E2", "pending", FEB)], ("pending", "E2")),
    ("pending-after-out-in-keeps-the-opt-in",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB), event("E3", "pending", MAR)], ("opt_in", "E2")),
    ("pending-after-in-pending-out-replaces-the-opt-out",
     [event("E1", "opt_in", JAN), event("E2", "pending", FEB), event("E3", "opt_out", MAR),
      event("E4", "pending", APR)], ("pending", "E4")),
    ("two-pendings-after-an-opt-in-are-both-ignored",
     [event("E1", "opt_in", JAN), event("E2", "pending", FEB), event("E3", "pending", MAR)], ("opt_in", "E1")),
    ("an-opt-out-after-an-ignored-pending",
     [event("E1", "opt_in", JAN), event("E2", "pending", FEB), event("E3", "opt_out", MAR)], ("opt_out", "E3")),
    ("a-confirmation-replaces-the-pending",
     [event("E1", "pending", JAN), event("E2", "opt_in", FEB)], ("opt_in", "E2")),
    ("a-late-older-opt-in-suspends-nothing-but-is-not-replaced-by-an-earlier-pending",
     [event("E1", "pending", JAN), event("E2", "opt_in", FEB, received=MAR)], ("opt_in", "E2")),
    ("tie-pending-and-opt-in", [event("E1", "pending", JAN), event("E2", "opt_in", JAN)], ("opt_in", "E2")),
    ("tie-pending-and-opt-out", [event("E1", "opt_out", JAN), event("E2", "pending", JAN)], ("opt_out", "E1")),
    # §3: opt-outs from anyone, opt-ins only from the owner
    ("an-opt-in-from-a-non-owner-does-nothing",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB, party_id="P2")], ("opt_out", "E1")),
    ("an-opt-in-from-the-owner", [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB, party_id="P1")],
     ("opt_in", "E2")),
    ("an-opt-in-naming-no-party", [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB)], ("opt_in", "E2")),
    ("an-opt-out-from-a-non-owner-counts",
     [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, party_id="P2")], ("opt_out", "E2")),
    ("an-opt-out-naming-an-unknown-party-counts",
     [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, party_id="C9")], ("opt_out", "E2")),
    ("an-opt-in-naming-an-unknown-party-waits",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB, party_id="C9")], ("opt_out", "E1")),
    ("a-party-level-opt-out-reaches-points-it-does-not-own",
     [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, party_id="P2", contact_point=None,
                                       contact_point_type=None)], ("opt_out", "E2")),
    ("a-party-level-opt-in-reaches-only-owned-points",
     [event("E1", "opt_out", JAN), event("E2", "opt_in", FEB, party_id="P2", contact_point=None,
                                        contact_point_type=None)], ("opt_out", "E1")),
    ("a-party-level-opt-out-of-phones-leaves-the-email",
     [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, party_id="P1", contact_point=None,
                                       contact_point_type="phone")], ("opt_in", "E1")),
    # a parent scope covers its leaves; a newer leaf event beats an older parent one
    ("a-newer-parent-opt-out-covers-the-leaf",
     [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, purpose="marketing", channel="*", brand="*")],
     ("opt_out", "E2")),
    ("a-newer-leaf-opt-in-beats-an-older-parent-opt-out",
     [event("E1", "opt_out", JAN, purpose="*", channel="*", brand="*"), event("E2", "opt_in", FEB)],
     ("opt_in", "E2")),
]
# fmt: on


@pytest.mark.parametrize(("events", "state"), [pytest.param(e, s, id=n) for n, e, s in ORDER_CASES])
def test_current_state(sandbox: Sandbox, events: list[dict], state: tuple[str, str]) -> None:
    assert current(sandbox, events).get(KEY) == state


def test_party_level_opt_in_reaches_the_owners_points_only(sandbox: Sandbox) -> None:
    party_level = event("E1", "opt_in", JAN, party_id="P2", contact_point=None, contact_point_type=None, channel="*")
    assert {k[0] for k in current(sandbox, [party_level])} == {PHONE2}


def test_scope_expands_to_channels_of_the_type_leaf_purposes_and_brands(sandbox: Sandbox) -> None:
    """`*` channel: the contact point type's channels; a purpose node: its leaves; `*`: every purpose; `*` brand:
    every brand in rules."""
    got = current(
        sandbox,
        [
            event("E1", "opt_out", JAN, contact_point=PHONE, contact_point_type="phone", channel="*",
                  purpose="marketing", brand="*"),
            event("E2", "opt_in", JAN, contact_point=PHONE2, contact_point_type="phone", channel="voice",
                  purpose="*", brand=HOME),
        ],
    )  # fmt: skip
    brands = {"lakeside_energy", "lakeside_home", "lakeside_motors"}
    marketing = {OFFERS, NEWSLETTER, "marketing.service_reminders", "marketing.third_party"}
    service = {"service.billing", "service.outage", "service.account"}
    assert {k[1:] for k in got if k[0] == PHONE} == {
        (c, p, b) for c in ("sms", "voice") for p in marketing for b in brands
    }
    assert {k[1:] for k in got if k[0] == PHONE2} == {("voice", p, HOME) for p in marketing | service}


# --- history: immutable versions -------------------------------------------------------------------------


def history(sandbox: Sandbox, events: list[dict]) -> list[tuple]:
    con = merge(sandbox, events)
    cols = [
        "event_id",
        "status",
        "valid_from",
        "valid_to",
        "recorded_at",
        "valid_to_recorded_at",
        "replaced_by",
    ]
    return rows(
        con,
        f"SELECT * FROM m_history WHERE contact_point = '{EMAIL}' AND channel = 'email' AND purpose = '{OFFERS}' "
        f"AND brand = '{HOME}' ORDER BY valid_from",
        cols,
    )


def test_each_event_is_a_version_closed_by_the_next(sandbox: Sandbox) -> None:
    """A late delivery of an older event goes between the versions it falls between by source time: the
    version before it closes at its event_ts, and the pipeline learnt that when the late one arrived."""
    got = history(
        sandbox,
        [event("E1", "opt_in", JAN), event("E3", "opt_in", MAR), event("E2", "opt_out", FEB, received=APR)],
    )
    assert got == [
        ("E1", "opt_in", JAN, FEB, JAN, APR, "E2"),
        ("E2", "opt_out", FEB, MAR, APR, MAR, "E3"),
        ("E3", "opt_in", MAR, None, MAR, None, None),
    ]


def test_an_ignored_pending_is_no_version(sandbox: Sandbox) -> None:
    got = history(sandbox, [event("E1", "opt_in", JAN), event("E2", "pending", FEB)])
    assert got == [("E1", "opt_in", JAN, None, JAN, None, None)]


def test_a_lone_event_is_one_open_version(sandbox: Sandbox) -> None:
    assert history(sandbox, [event("E1", "opt_out", JAN, received=FEB)]) == [
        ("E1", "opt_out", JAN, None, FEB, None, None)
    ]


# --- as of / as known (the auditors' macros) ---------------------------------------------------------------


def macros(sandbox: Sandbox, events: list[dict]) -> Any:
    con = merge(sandbox, events)
    con.execute("CREATE TABLE consent_history AS SELECT * FROM m_history")
    con.execute("CREATE TABLE consent_effects AS SELECT * FROM m_effects")
    create_macros(con)
    return con


def ask(con: Any, call: str) -> list[tuple]:
    return rows(
        con,
        f"SELECT * FROM {call} WHERE contact_point = '{EMAIL}' AND channel = 'email' AND purpose = '{OFFERS}'"
        f" AND brand = '{HOME}'",
        ["status", "event_id"],
    )


def tz(when: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{when:%Y-%m-%d %H:%M:%S}+00'"


LATE = [event("E1", "opt_in", JAN), event("E2", "opt_out", FEB, received=APR), event("E3", "pending", MAR)]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (f"consent_as_of({tz(JAN - dt.timedelta(seconds=1))})", []),
        (f"consent_as_of({tz(JAN)})", [("opt_in", "E1")]),
        (f"consent_as_of({tz(FEB - dt.timedelta(seconds=1))})", [("opt_in", "E1")]),
        (f"consent_as_of({tz(FEB)})", [("opt_out", "E2")]),
        (f"consent_as_of({tz(APR)})", [("pending", "E3")]),  # the pending replaced the opt-out
        # known on 1 March: E2 (received 1 April) not yet; as of April the state was then E1's opt-in, which
        # the pending of March does not replace
        (f"consent_as_known({tz(APR)}, {tz(MAR)})", [("opt_in", "E1")]),
        (f"consent_as_known({tz(APR)}, {tz(APR - dt.timedelta(seconds=1))})", [("opt_in", "E1")]),
        (f"consent_as_known({tz(APR)}, {tz(APR)})", [("pending", "E3")]),
        (f"consent_as_known({tz(FEB)}, {tz(APR)})", [("opt_out", "E2")]),
        (f"consent_as_known({tz(JAN - dt.timedelta(seconds=1))}, {tz(APR)})", []),
    ],
)
def test_as_of_and_as_known(sandbox: Sandbox, call: str, expected: list[tuple]) -> None:
    assert ask(macros(sandbox, LATE), call) == expected
