"""Who owns a contact point (semantics §3, rules 1-4 and prospects), on an in-memory DuckDB: core/identity/identity.py's
steps alone, over customer-master rows, events, evidence and subject profiles given directly.

Each case gives a few customers holding X (a phone, an email or an address) and expects X's owner and the rule
that decided it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.identity.identity import build_identity
from consent_pipeline.lib.contact_points import prospect_id
from tests.unit.sqlcase import Sandbox, rows

pytestmark = pytest.mark.unit

PHONE, EMAIL, ADDRESS = "+447700900111", "x@example.com", "1 mill lane, leeds"
D1, D2, D3 = (dt.datetime(2025, m, 1, 8) for m in (1, 2, 3))


def customer(cid: str, updated: dt.datetime = D1, household: str | None = None, primary: bool = False,
             **points: str) -> dict[str, Any]:  # fmt: skip
    """A customer-master row; `points`: email=, mobile_phone=, home_phone=, postal_address=."""
    return {
        "row_id": f"r-{cid}", "customer_id": cid, "customer_type": "customer", "household_id": household,
        "is_primary_holder": primary, "country": "GB", "updated_at": updated, "received_ts": updated, **points,
    }  # fmt: skip


def evidence(cid: str | None, kind: str, at: dt.datetime, cp: str = EMAIL) -> dict[str, Any]:
    cp_type = "email" if "@" in cp else "phone"
    return {"row_id": f"v-{cid}-{kind}-{at:%m}", "party_id": cid, "contact_point": cp, "contact_point_type": cp_type,
            "kind": kind, "evidence_ts": at}  # fmt: skip


def named(cid: str | None, at: dt.datetime, cp: str = PHONE, status: str = "opt_in") -> dict[str, Any]:
    """An event that names the customer and the contact point."""
    cp_type = "email" if "@" in cp else "phone"
    return {"event_id": f"e-{cid}-{at:%m}", "party_id": cid, "contact_point": cp, "contact_point_type": cp_type,
            "channel": "*", "purpose": "marketing", "brand": "*", "status": status, "event_ts": at}  # fmt: skip


@pytest.fixture(scope="module")
def sandbox(rules: Rules) -> Sandbox:
    return Sandbox(rules)


def owners(sandbox: Sandbox, customers: list[dict], **tables: list[dict]) -> dict[str, tuple[str, str]]:
    con = sandbox.given(
        {
            "customer_records": customers,
            "consent_events": tables.get("events", []),
            "subject_profiles": tables.get("profiles", []),
            "contact_evidence": tables.get("evidence", []),
            "activity": tables.get("activity", []),
        }
    )
    build_identity(con)
    return {
        cp: (party, rule)
        for cp, party, rule in rows(con, "SELECT * FROM id_owner", ["contact_point", "party_id", "rule"])
    }


# fmt: off
CASES = [
    # rule 1: the most recent proof of control naming a customer
    ("r1-a-double-opt-in-beats-a-personal-holder", EMAIL, ("C2", "proof_of_control"),
     [customer("C1", D3, email=EMAIL), customer("C2", D1)], {"evidence": [evidence("C2", "double_opt_in", D2)]}),
    ("r1-an-account-login-is-proof", EMAIL, ("C2", "proof_of_control"),
     [customer("C1", D3, email=EMAIL), customer("C2", D1)], {"evidence": [evidence("C2", "account_login", D2)]}),
    ("r1-the-most-recent-proof", EMAIL, ("C1", "proof_of_control"),
     [customer("C1", D1), customer("C2", D3)],
     {"evidence": [evidence("C2", "double_opt_in", D1), evidence("C1", "account_login", D2)]}),
    ("r1-an-inbound-message-is-no-proof", EMAIL, ("C1", "personal"),
     [customer("C1", D1, email=EMAIL), customer("C2", D1)], {"evidence": [evidence("C2", "inbound_message", D3)]}),
    ("r1-a-proof-naming-no-known-customer-is-none", EMAIL, ("C1", "personal"),
     [customer("C1", D1, email=EMAIL)], {"evidence": [evidence("C9", "double_opt_in", D3)]}),
    # rule 2: the personal holder over shared ones
    ("r2-personal-over-a-newer-shared-primary-holder", PHONE, ("C1", "personal"),
     [customer("C1", D1, "H1", mobile_phone=PHONE), customer("C2", D3, "H1", True, home_phone=PHONE)], {}),
    ("r2-personal-over-a-newer-association", PHONE, ("C1", "personal"),
     [customer("C1", D1, mobile_phone=PHONE), customer("C2", D1)], {"events": [named("C2", D3)]}),
    # rule 3: one household's primary holder
    ("r3-shared-phone-of-one-household", PHONE, ("C1", "primary_holder"),
     [customer("C1", D1, "H1", True, home_phone=PHONE), customer("C2", D3, "H1", home_phone=PHONE)], {}),
    ("r3-two-personal-holders-of-one-household", EMAIL, ("C1", "primary_holder"),
     [customer("C1", D1, "H1", True, email=EMAIL), customer("C2", D3, "H1", email=EMAIL)], {}),
    ("r3-the-household-address", ADDRESS, ("C1", "primary_holder"),
     [customer("C1", D1, "H1", True, postal_address=ADDRESS), customer("C2", D3, "H1", postal_address=ADDRESS)],
     {}),
    ("r3-needs-the-primary-holder-among-the-holders", PHONE, ("C3", "most_recent"),
     [customer("C1", D3, "H1", True), customer("C2", D1, "H1", home_phone=PHONE),
      customer("C3", D2, "H1", home_phone=PHONE)], {}),
    ("r3-only-within-one-household", PHONE, ("C2", "most_recent"),
     [customer("C1", D1, "H1", True, home_phone=PHONE), customer("C2", D2, "H2", True, home_phone=PHONE)], {}),
    ("r3-a-primary-holder-of-another-household-does-not-decide", PHONE, ("C2", "most_recent"),
     [customer("C1", D1, "H1", True, home_phone=PHONE), customer("C2", D2, "H2", home_phone=PHONE)], {}),
    ("r3-a-party-without-household-is-a-household-of-its-own", PHONE, ("C2", "most_recent"),
     [customer("C1", D1, "H1", True, home_phone=PHONE), customer("C2", D2, home_phone=PHONE)], {}),
    ("r3-among-the-personal-holders-only", EMAIL, ("C1", "primary_holder"),
     [customer("C1", D1, "H1", True, email=EMAIL), customer("C2", D1, "H1", email=EMAIL),
      customer("C3", D3, "H2", True)], {"events": [named("C3", D3, EMAIL)]}),
    # rule 4: the most recent association; ties by the smallest party id
    ("r4-most-recent-master-update", PHONE, ("C2", "most_recent"),
     [customer("C1", D1, "H1", home_phone=PHONE), customer("C2", D2, "H2", home_phone=PHONE)], {}),
    ("r4-tie-smallest-party-id", PHONE, ("C1", "most_recent"),
     [customer("C2", D1, "H2", home_phone=PHONE), customer("C1", D1, "H1", home_phone=PHONE)], {}),
    ("r4-an-event-naming-both-is-an-association", PHONE, ("C1", "most_recent"),
     [customer("C1", D1, "H1", home_phone=PHONE), customer("C2", D2, "H2", home_phone=PHONE)],
     {"events": [named("C1", D3)]}),
    ("r4-among-two-personal-holders-of-two-households", PHONE, ("C2", "most_recent"),
     [customer("C1", D1, "H1", True, mobile_phone=PHONE), customer("C2", D2, "H2", True, mobile_phone=PHONE),
      customer("C3", D3, "H3", True, home_phone=PHONE)], {}),
    # prospects
    ("prospect-seen-only-in-events", EMAIL, (prospect_id(EMAIL), "prospect"),
     [customer("C1", D1)], {"events": [named(None, D1, EMAIL, "opt_out")]}),
    ("prospect-a-customer-claims-it", EMAIL, ("C1", "personal"),
     [customer("C1", D3, email=EMAIL)], {"events": [named(None, D1, EMAIL, "opt_out")]}),
    ("prospect-a-lead-is-one-prospect-keyed-by-its-email", PHONE, (prospect_id(EMAIL), "prospect"),
     [customer("C1", D1)],
     {"profiles": [{"row_id": "s1", "party_id": None, "email": EMAIL, "phone": PHONE, "observed_ts": D1}]}),
]
# fmt: on


@pytest.mark.parametrize(("point", "owner", "customers", "tables"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_owner(sandbox: Sandbox, point: str, owner: tuple[str, str], customers: list[dict], tables: dict) -> None:
    assert owners(sandbox, customers, **tables).get(point) == owner


def test_a_lead_prospect_owns_its_email_too(sandbox: Sandbox) -> None:
    profile = {"row_id": "s1", "party_id": None, "email": EMAIL, "phone": PHONE, "observed_ts": D1}
    got = owners(sandbox, [customer("C1", D1)], profiles=[profile])
    assert got[EMAIL] == got[PHONE] == (prospect_id(EMAIL), "prospect")


def test_a_master_prospect_is_a_prospect_party_under_its_own_id(sandbox: Sandbox) -> None:
    con = sandbox.given(
        {
            "customer_records": [{**customer("C7", D1, email=EMAIL), "customer_type": "prospect"}],
            **{t: [] for t in ("consent_events", "subject_profiles", "contact_evidence", "activity")},
        }
    )
    build_identity(con)
    assert rows(con, "SELECT * FROM id_parties", ["party_id", "party_type"]) == [("C7", "prospect")]
    assert rows(con, "SELECT * FROM id_owner", ["contact_point", "party_id"]) == [(EMAIL, "C7")]
