"""Campaign extracts and frequency caps (semantics §7, company.md: per contact point across all brands, rolling
7 days: email 3, sms 2, voice 1), on an in-memory DuckDB: core/marketing/extracts.py's campaign query alone, over
permissions, segments, parties and sends given directly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.marketing.extracts import campaign_frame
from tests.unit.sqlcase import Sandbox

pytestmark = pytest.mark.unit

AS_OF = dt.datetime(2026, 3, 1, 6)
SEC = dt.timedelta(seconds=1)
WEEK = dt.timedelta(days=7)
EMAIL, PHONE = "p1@example.com", "+14155550101"
# campaign -> (brand, channel, purpose, a segment it targets, the contact point)
CAMPAIGNS = {
    "energy_winter_offers": ("lakeside_energy", "email", "marketing.offers", "occasional", EMAIL),
    "energy_winback_sms": ("lakeside_energy", "sms", "marketing.offers", "lapsed_1", PHONE),
    "motors_service_reminder_call": (
        "lakeside_motors",
        "voice",
        "marketing.service_reminders",
        "occasional",
        PHONE,
    ),
}


@pytest.fixture(scope="module")
def sandbox(rules: Rules) -> Sandbox:
    return Sandbox(rules)


def sent(at: dt.datetime, channel: str = "email", brand: str = "lakeside_home", purpose: str = "marketing.newsletter",
         cp: str = EMAIL) -> dict[str, Any]:  # fmt: skip
    return {"send_id": f"S-{at:%d%H%M%S}-{channel}-{purpose}", "contact_point": cp, "channel": channel,
            "brand": brand, "purpose": purpose, "sent_at": at}  # fmt: skip


def listed(
    sandbox: Sandbox,
    rules: Rules,
    campaign: str,
    sends: list[dict],
    allowed: bool = True,
    segment: str | None = None,
) -> list[str]:
    brand, channel, purpose, target, cp = CAMPAIGNS[campaign]
    con = sandbox.given(
        {
            "contact_permission": [
                {"party_id": "P1", "contact_point": cp, "channel": channel, "purpose": purpose, "brand": brand,
                 "region": "US", "allowed": allowed, "reason": "express_consent" if allowed else "no_consent",
                 "decided_by": "E1", "contact_point_type": "email" if cp == EMAIL else "phone"}
            ],
            "segments": [{"party_id": "P1", "brand": brand, "segment": segment or target}],
            "parties": [{"party_id": "P1", "country": "US", "first_name": "Ana"}],
            "sends": sends,
        }
    )  # fmt: skip
    return campaign_frame(con, rules, AS_OF, campaign)["contact_point"].to_list()


def days_ago(n: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=n)


# fmt: off
EMAIL_CASES = [
    ("two-of-three", [sent(days_ago(1)), sent(days_ago(2))], [EMAIL]),
    ("three-of-three", [sent(days_ago(1)), sent(days_ago(2)), sent(days_ago(3))], []),
    ("across-brands", [sent(days_ago(1), brand=b) for b in ("lakeside_home", "lakeside_motors", "lakeside_energy")],
     []),
    ("the-window-starts-after-as-of-minus-7-days", [sent(days_ago(1)), sent(days_ago(2)), sent(AS_OF - WEEK)],
     [EMAIL]),
    ("one-second-inside-the-window", [sent(days_ago(1)), sent(days_ago(2)), sent(AS_OF - WEEK + SEC)], []),
    ("a-send-at-the-run-counts", [sent(days_ago(1)), sent(days_ago(2)), sent(AS_OF)], []),
    ("a-send-after-the-run-does-not", [sent(days_ago(1)), sent(days_ago(2)), sent(AS_OF + SEC)], [EMAIL]),
    ("service-messages-do-not-count",
     [sent(days_ago(1)), sent(days_ago(2)), sent(days_ago(3), purpose="service.billing")], [EMAIL]),
    ("other-channels-do-not-count",
     [sent(days_ago(1)), sent(days_ago(2)), sent(days_ago(3), "sms", cp=PHONE)], [EMAIL]),
    ("other-contact-points-do-not-count",
     [sent(days_ago(1)), sent(days_ago(2)), sent(days_ago(3), cp="other@example.com")], [EMAIL]),
]
# fmt: on


@pytest.mark.parametrize(("sends", "expected"), [pytest.param(s, e, id=n) for n, s, e in EMAIL_CASES])
def test_email_cap_of_3(sandbox: Sandbox, rules: Rules, sends: list[dict], expected: list[str]) -> None:
    assert listed(sandbox, rules, "energy_winter_offers", sends) == expected


@pytest.mark.parametrize(
    ("campaign", "channel", "under", "at"),
    [("energy_winback_sms", "sms", 1, 2), ("motors_service_reminder_call", "voice", 0, 1)],
)
def test_sms_cap_of_2_and_voice_cap_of_1(
    sandbox: Sandbox, rules: Rules, campaign: str, channel: str, under: int, at: int
) -> None:
    def sends(n: int) -> list[dict]:
        return [sent(days_ago(i + 1), channel, purpose="marketing.offers", cp=PHONE) for i in range(n)]

    assert listed(sandbox, rules, campaign, sends(under)) == [PHONE]
    assert listed(sandbox, rules, campaign, sends(at)) == []


def test_only_allowed_contact_points_of_targeted_segments(sandbox: Sandbox, rules: Rules) -> None:
    assert listed(sandbox, rules, "energy_winter_offers", [], allowed=False) == []
    assert listed(sandbox, rules, "energy_winter_offers", [], segment="lapsed_3") == []
    assert listed(sandbox, rules, "energy_winter_offers", []) == [EMAIL]
