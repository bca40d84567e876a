"""Template cells end to end (semantics §5, template table): for three cells (US, EU-DE, OTHER) x email / sms /
voice / mail / door, the generic marketing purposes and `marketing.third_party`, one party per kind of consent
or relationship on file as a source delivers it, so a whole run shows which basis each source's records become
and what the cell makes of it: nothing at all, an express written opt-in (Salesforce), an express double
opt-in (DE), a spoken opt-in (call centre, `express_verbal`), a recent purchase, a third-party lead
(`third_party`), a legacy record without flags (`legitimate_interest`) and an imported Mailchimp contact
(`imported`). Every cell of every region, from given rows, is a unit case (tests/unit/test_permissions.py).
The expected reasons below are written out by hand from the spec's template table, not derived from
rules/templates.yaml. Registries are fresh and list none of these numbers.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.permissions.cases import (
    ENERGY,
    HOME,
    MAIN,
    NEWSLETTER,
    OFFERS,
    REMINDERS,
    THIRD_PARTY,
    Case,
    case,
)
from tests.permissions.harness import Runner, check
from tests.permissions.world import Party, add_months, utc

# The reasons, short enough for the tables below.
EXP, SOFT, IMPL, INFR = "express_consent", "soft_opt_in", "implied_consent", "inferred_consent"
TP, LI, OOM, NONE = "third_party_consent", "legitimate_interest", "opt_out_model", "no_consent"

# Template cell -> (country of the party, region it must land in, the brand it deals with).
# (A sample: the other cells' expectations stay in the tables below for reference.)
CELLS: dict[str, tuple[str, str, str]] = {
    "US": ("US", "US", ENERGY),
    "DE": ("DE", "EU", HOME),
    "OTHER": ("CH", "OTHER", HOME),  # Switzerland: in Europe, not in the EU -> OTHER
}
COLUMNS = ("email", "sms", "voice", "mail")  # door uses the mail column

# Reason for a generic marketing purpose, per cell: (email, sms, voice, mail/door). From the spec's table.
EXPECTED: dict[str, dict[str, tuple[str, str, str, str]]] = {
    # nothing on file: only opt-out-model cells allow
    "bare": {
        "US": (OOM, NONE, OOM, OOM),
        "CA": (NONE, NONE, OOM, OOM),
        "GB": (NONE, NONE, OOM, OOM),
        "EU": (NONE, NONE, NONE, OOM),
        "DE": (NONE, NONE, NONE, OOM),
        "AU": (NONE, NONE, OOM, OOM),
        "OTHER": (NONE, NONE, NONE, NONE),
    },
    # an express written single opt-in: enough everywhere except DE email (double opt-in required)
    "express": {
        "US": (EXP, EXP, EXP, EXP),
        "CA": (EXP, EXP, EXP, EXP),
        "GB": (EXP, EXP, EXP, EXP),
        "EU": (EXP, EXP, EXP, EXP),
        "DE": (NONE, EXP, EXP, EXP),
        "AU": (EXP, EXP, EXP, EXP),
        "OTHER": (EXP, EXP, EXP, EXP),
    },
    # the same opt-in confirmed by double opt-in: enough for DE email too
    "express_doi": {"DE": (EXP, EXP, EXP, EXP)},
    # a spoken opt-in: not written, so not enough for US sms (TCPA); not double opt-in, so not DE email
    "verbal": {
        "US": (EXP, NONE, EXP, EXP),
        "CA": (EXP, EXP, EXP, EXP),
        "GB": (EXP, EXP, EXP, EXP),
        "EU": (EXP, EXP, EXP, EXP),
        "DE": (NONE, EXP, EXP, EXP),
        "AU": (EXP, EXP, EXP, EXP),
        "OTHER": (EXP, EXP, EXP, EXP),
    },
    # a purchase a month ago: CA implied, GB/EU soft opt-in, AU inferred, on email and sms only; it never
    # turns voice or mail into anything but the opt-out model (or no_consent where that is not the model)
    "purchase": {
        "US": (OOM, NONE, OOM, OOM),
        "CA": (IMPL, IMPL, OOM, OOM),
        "GB": (SOFT, SOFT, OOM, OOM),
        "EU": (SOFT, SOFT, NONE, OOM),
        "DE": (SOFT, SOFT, NONE, OOM),
        "AU": (INFR, INFR, OOM, OOM),
        "OTHER": (NONE, NONE, NONE, NONE),
    },
    # legitimate interest satisfies only the opt-out-model cells (and is then the reason)
    "legacy": {
        "US": (LI, NONE, LI, LI),
        "CA": (NONE, NONE, LI, LI),
        "GB": (NONE, NONE, LI, LI),
        "EU": (NONE, NONE, NONE, LI),
        "DE": (NONE, NONE, NONE, LI),
        "AU": (NONE, NONE, LI, LI),
        "OTHER": (NONE, NONE, NONE, NONE),
    },
}
# A lead's third-party opt-in (email, sms, voice; a lead has no postal address) within its 183 days.
LEAD_EXPECTED: dict[str, tuple[str, str, str]] = {
    "US": (TP, TP, TP),
    "CA": (TP, TP, TP),
    "GB": (TP, TP, TP),
    "EU": (TP, TP, TP),
    "DE": (NONE, TP, TP),
    "AU": (TP, TP, TP),
    "OTHER": (NONE, NONE, NONE),  # the strictest template: an express opt-in given by the subject
}
# An imported Mailchimp contact (email, lakeside_home offers): never enough for an opt-in template.
IMPORTED_EXPECTED = {"US": OOM, "CA": NONE, "GB": NONE, "EU": NONE, "DE": NONE, "AU": NONE, "OTHER": NONE}

# Party id suffixes (legacy customer ids have at most 10 characters).
SHORT = {
    "bare": "BARE",
    "express": "EXPR",
    "express_doi": "DOI",
    "verbal": "VERB",
    "purchase": "PURCH",
    "legacy": "LI",
}

EXPRESS_AT = utc("2026-01-15T10:00:00Z")
VERBAL_AT = utc("2026-01-20T15:00:00Z")
PURCHASE_AT = utc("2026-02-01T12:00:00Z")
LEAD_AT = utc("2026-02-01T09:00:00Z")
LEGACY_DAY = dt.date(2020, 6, 1)
IMPORTED_AT = utc("2025-11-01T08:00:00Z")


def _verbal_answers() -> dict[str, str]:
    return {
        q: "yes" for q in ("email_offers", "sms_offers", "phone_offers", "mail_offers", "door_visits", "third_party")
    }


def _build() -> list[Case]:
    cases: list[Case] = []
    for cell, (country, region, brand) in CELLS.items():
        parties: dict[str, Party] = {}
        # what decided, per variant: the source id for allowed-by-consent reasons
        decided: dict[str, dict[str, str]] = {}
        for variant in EXPECTED:
            if cell not in EXPECTED[variant]:
                continue
            p = MAIN.customer(f"T-{cell}-{SHORT[variant]}", country, brand)
            parties[variant] = p
            if variant in ("express", "express_doi"):
                ids = MAIN.express_everywhere(p, EXPRESS_AT, double_opt_in=variant == "express_doi")
                decided[variant] = dict(zip(("email", "phone", "postal"), ids, strict=True))
            elif variant == "verbal":
                cid = MAIN.call_centre(p, brand, VERBAL_AT, _verbal_answers())
                decided[variant] = {"email": cid, "phone": cid, "postal": cid}
            elif variant == "purchase":
                txn = MAIN.txn(p, brand, "purchase", PURCHASE_AT)
                decided[variant] = {"email": txn, "phone": txn, "postal": txn}
            elif variant == "legacy":
                account = MAIN.legacy(p, brand, LEGACY_DAY)
                decided[variant] = {"email": account, "phone": account, "postal": account}

        for variant, party in parties.items():
            for column, reason in zip(COLUMNS, EXPECTED[variant][cell], strict=True):
                for channel in (column, "door") if column == "mail" else (column,):
                    for purpose in (OFFERS, NEWSLETTER, REMINDERS, THIRD_PARTY):
                        if variant == "verbal" and purpose in (NEWSLETTER, REMINDERS):
                            continue  # the script's questions are about offers (and third party) only
                        want = reason
                        if purpose == THIRD_PARTY and reason != EXP:
                            want = NONE  # marketing.third_party always needs an express opt-in
                        cases.append(_cell_case(cell, variant, party, channel, purpose, brand, region, want, decided))

        # a third-party lead, a prospect of that country
        lead, lead_id = MAIN.lead(f"LEAD-{cell}", country, brand, LEAD_AT)
        for channel, reason in zip(("email", "sms", "voice"), LEAD_EXPECTED[cell], strict=True):
            for purpose, want in ((OFFERS, reason), (THIRD_PARTY, NONE)):
                cases.append(
                    case(
                        f"{cell}-{channel}-{purpose}-lead",
                        lead,
                        channel,
                        purpose,
                        brand,
                        want,
                        region=region,
                        valid_until=LEAD_AT + dt.timedelta(days=183) if want == TP else None,
                        decided_by=lead_id if want == TP else "",
                        proves=f"template {cell} {channel}: a third-party opt-in (183 days) gives {want}",
                    )
                )

        # an imported Mailchimp contact (no opt-in time at all)
        imported = MAIN.customer(f"T-{cell}-IMPORTED", country, brand)
        MAIN.mailchimp(imported, "a1h0meoffr", "subscribed", changed=IMPORTED_AT)
        cases.append(
            case(
                f"{cell}-email-offers-imported",
                imported,
                "email",
                OFFERS,
                HOME,
                IMPORTED_EXPECTED[cell],
                region=region,
                decided_by="",
                proves=f"template {cell} email: `imported` consent never satisfies an opt-in template",
            )
        )
    return cases


def _cell_case(
    cell: str,
    variant: str,
    party: Party,
    channel: str,
    purpose: str,
    brand: str,
    region: str,
    want: str,
    decided: dict[str, dict[str, str]],
) -> Case:
    cp_type = {"email": "email", "sms": "phone", "voice": "phone"}.get(channel, "postal")
    valid_until = add_months(PURCHASE_AT, 24) if want in (IMPL, INFR) else None
    # no event decides an opt-out-model or no-consent key
    decided_by = "" if want in (OOM, NONE) else decided[variant][cp_type]
    return case(
        f"{cell}-{channel}-{purpose}-{variant}",
        party,
        channel,
        purpose,
        brand,
        want,
        region=region,
        valid_until=valid_until,
        decided_by=decided_by,
        proves=f"template {cell} {channel} ({purpose}) with {variant} on file -> {want}",
    )


CASES = _build()


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_template_cell(case: Case, runner: Runner) -> None:
    """The row's allowed / reason / valid_until / region / decided_by are what the template cell says."""
    check(case, runner(case.run))
