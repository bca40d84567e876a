"""The world the end-to-end permission tests share, the run made of it, and what a case expects.

One landing world, `MAIN`, filled in by the test modules at import time (each case is its own party) and run
once as of 2026-03-01T06:00:00Z (`run "main"`), with fresh snapshots of all four do-not-call registries
(delivered 2026-02-26T03:00Z): a sample of what only a whole run shows (a source's records deciding).
The decision table at its boundaries, registry freshness (row 6) and every template cell are unit cases
(tests/unit/test_permissions.py).

A `Case` names one exact `contact_permission` row (party_id, contact_point, channel, purpose, brand) and
the decision the spec demands for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from tests.permissions.world import Party, World, utc

ENERGY, HOME, MOTORS = "lakeside_energy", "lakeside_home", "lakeside_motors"
OFFERS, NEWSLETTER, REMINDERS, THIRD_PARTY = (
    "marketing.offers",
    "marketing.newsletter",
    "marketing.service_reminders",
    "marketing.third_party",
)
BILLING, OUTAGE, ACCOUNT = "service.billing", "service.outage", "service.account"
CHANNELS = ("email", "sms", "voice", "mail", "door")
REGISTRIES = ("us_ftc", "ca_dncl", "uk_tps", "au_dncr")

MAIN_AS_OF = utc("2026-03-01T06:00:00Z")
MAIN_REGISTRY_DELIVERY = utc("2026-02-26T03:00:00Z")
MAIN = World()
for _registry in REGISTRIES:
    MAIN.registry(_registry, MAIN_REGISTRY_DELIVERY, [])


@dataclass(frozen=True)
class Run:
    """One pipeline run: which world, as of when, with or without its registry deliveries."""

    world: World
    as_of: dt.datetime
    registries: bool = True


RUNS: dict[str, Run] = {"main": Run(MAIN, MAIN_AS_OF)}


@dataclass(frozen=True)
class Case:
    """The expected decision for one contact_permission row.

    `decided_by`, when given, is the source's own id of what decided (a transaction id, a Salesforce
    consent Id, a lead id, a call-centre capture id, `registry:<id>/<delivery>`); `""` means no event
    (NULL). `bug`, when given, marks the case xfail(strict) with that reason.
    """

    name: str
    run: str
    party_id: str
    contact_point: str
    channel: str
    purpose: str
    brand: str
    allowed: bool
    reason: str
    valid_until: dt.datetime | None = None
    region: str | None = None
    decided_by: str | None = None
    proves: str = ""
    bug: str | None = None

    def param(self) -> object:
        marks = [pytest.mark.xfail(strict=True, reason=self.bug)] if self.bug else []
        return pytest.param(self, id=self.name, marks=marks)


ALLOWED_REASONS = {
    "service_required",
    "service_allowed",
    "established_relationship",
    "express_consent",
    "soft_opt_in",
    "implied_consent",
    "inferred_consent",
    "third_party_consent",
    "legitimate_interest",
    "opt_out_model",
}


def case(
    name: str,
    party: Party,
    channel: str,
    purpose: str,
    brand: str,
    reason: str,
    *,
    run: str = "main",
    valid_until: dt.datetime | None = None,
    region: str | None = None,
    decided_by: str | None = None,
    proves: str = "",
    bug: str | None = None,
    contact_point: str | None = None,
) -> Case:
    """A case whose `allowed` follows from the reason (the decision table's allowed column)."""
    return Case(
        name=name,
        run=run,
        party_id=party.party_id,
        contact_point=contact_point or party.cp(channel),
        channel=channel,
        purpose=purpose,
        brand=brand,
        allowed=reason in ALLOWED_REASONS,
        reason=reason,
        valid_until=valid_until,
        region=region,
        decided_by=decided_by,
        proves=proves,
        bug=bug,
    )
