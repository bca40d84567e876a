"""The permission decision table (semantics §5) end to end: what only a whole run can show, on the MAIN
world run as of 2026-03-01T06:00:00Z with fresh registries.

The table itself (every row, reason and window at its boundary, precedence, registry freshness) is decided
by the unit layer (tests/unit/test_permissions.py) over given rows. Here each case proves that a source's
records become the state, evidence, listing or erasure that decides: a feed file in, a decision out (an
erased contact point only as its sha256, a SendGrid bounce code, a Mailchimp confirmation, legacy flags,
Salesforce's Don't Market and EffectiveTo, Twilio keywords per sender number, a registry file, a call-centre
capture, a preference-centre or OneTrust pending, a till receipt, a lead). `proves=` says what a case proves.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.permissions.cases import (
    ACCOUNT,
    BILLING,
    ENERGY,
    HOME,
    MAIN,
    MAIN_AS_OF,
    MAIN_REGISTRY_DELIVERY,
    MOTORS,
    NEWSLETTER,
    OFFERS,
    OUTAGE,
    REMINDERS,
    THIRD_PARTY,
    Case,
    case,
)
from tests.permissions.harness import Runner, check
from tests.permissions.world import sha256_cp, utc

A = MAIN_AS_OF
SEC = dt.timedelta(seconds=1)
LEAD_LIFE = dt.timedelta(days=183)
US_DNC, CA_DNC, UK_TPS, AU_DNCR = (
    f"registry:{r}/{MAIN_REGISTRY_DELIVERY:%Y-%m-%dT%H%M%SZ}" for r in ("us_ftc", "ca_dncl", "uk_tps", "au_dncr")
)
JAN, FEB = utc("2026-01-05T10:00:00Z"), utc("2026-02-01T10:00:00Z")
MONTH_AGO = utc("2026-02-01T12:00:00Z")

CASES: list[Case] = []


def add(*cases: Case) -> None:
    CASES.extend(cases)


def listed(registry: str, phone: str | None) -> None:
    """The number is on the registry's fresh snapshot (2026-02-26)."""
    assert phone
    MAIN.registry(registry, MAIN_REGISTRY_DELIVERY, [phone])


# fmt: off
# --- row 1: erased ------------------------------------------------------------------------------------------

p = MAIN.customer("D-R1-ERASED", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.erasure(p, FEB)  # names the email only
gone = sha256_cp(p.cp("email"))
add(
    case("r1-erased-email-marketing", p, "email", OFFERS, MOTORS, "erased", contact_point=gone,
         proves="row 1: an erased contact point is never allowed, and appears only as its sha256"),
    case("r1-erased-email-billing", p, "email", BILLING, MOTORS, "erased", contact_point=gone,
         proves="row 1 before row 3: not even bills go to an erased contact point"),
    case("r1-not-erased-phone", p, "sms", OFFERS, MOTORS, "express_consent",
         proves="row 1 pair: the request named only the email; the phone keeps its express opt-in"),
)
p = MAIN.customer("D-R1-ERASED-CUSTOMER", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.erasure(p, FEB, emails=False, customer=True)
add(
    case("r1-erased-by-customer-phone", p, "sms", OFFERS, MOTORS, "erased", contact_point=sha256_cp(p.cp("sms")),
         proves="row 1: an erasure naming the customer erases every contact point associated with it"),
    case("r1-erased-by-customer-mail-billing", p, "mail", BILLING, MOTORS, "erased",
         contact_point=sha256_cp(p.cp("mail")), proves="row 1: ... its postal address too, bills included"),
)

# --- row 2: undeliverable, unless something later proved it works ------------------------------------------

p = MAIN.customer("D-R2-BOUNCE", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.sendgrid_bounce(p, FEB, "5.1.1")
add(
    case("r2-hard-bounce-marketing", p, "email", OFFERS, MOTORS, "undeliverable",
         proves="row 2: a 5.x.x bounce makes the address undeliverable, whatever consent is on file"),
    case("r2-hard-bounce-billing", p, "email", BILLING, MOTORS, "undeliverable",
         proves="row 2 before row 3: no bill to an undeliverable address either"),
    case("r2-hard-bounce-phone-unaffected", p, "sms", OFFERS, MOTORS, "express_consent",
         proves="row 2 pair: only the bounced address is undeliverable"),
)
p = MAIN.customer("D-R2-SOFT-BOUNCE", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.sendgrid_bounce(p, FEB, "4.2.2")
add(case("r2-soft-bounce-is-not-undeliverable", p, "email", OFFERS, MOTORS, "express_consent",
         proves="row 2 pair: a 4.x.x bounce changes nothing"))
p = MAIN.customer("D-R2-CLEANED", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.mailchimp(p, "a1m0tor5uk", "cleaned", changed=FEB)
add(case("r2-mailchimp-cleaned", p, "email", OFFERS, MOTORS, "undeliverable",
         proves="row 2: a Mailchimp cleaned member is undeliverable from CLEAN_TIME"))
p = MAIN.customer("D-R2-DOI-AFTER", "GB", HOME)
MAIN.express_everywhere(p, JAN)
MAIN.sendgrid_bounce(p, utc("2026-01-10T00:00:00Z"))
MAIN.mailchimp(p, "a1h0menews", "subscribed", optin=utc("2026-02-01T09:55:00Z"), confirm=FEB)
add(case("r2-double-opt-in-after-bounce-proves-it-works", p, "email", OFFERS, HOME, "express_consent",
         proves="row 2: a (Mailchimp) confirmed double opt-in after the bounce proves the address works"))
p = MAIN.customer("D-R2-DOI-BEFORE", "GB", HOME)
MAIN.express_everywhere(p, JAN)
MAIN.mailchimp(p, "a1h0menews", "subscribed", optin=utc("2026-01-10T09:55:00Z"), confirm=utc("2026-01-10T10:00:00Z"))
MAIN.sendgrid_bounce(p, FEB)
add(case("r2-double-opt-in-before-bounce-proves-nothing", p, "email", OFFERS, HOME, "undeliverable",
         proves="row 2 pair: a double opt-in before the bounce does not clear it"))
p = MAIN.customer("D-R2-PREF-DOI-AFTER", "GB", HOME)
MAIN.express_everywhere(p, JAN)
MAIN.sendgrid_bounce(p, utc("2026-01-10T00:00:00Z"))
MAIN.preference_centre(p, "lakeside_home.newsletter", subscribed=True, doi_status="Confirmed",
                       at=utc("2026-02-01T09:00:00Z"), confirm=FEB)
add(case("r2-preference-centre-double-opt-in-clears", p, "email", OFFERS, HOME, "express_consent",
         proves="row 2: a preference-centre confirmed double opt-in after the bounce proves it works"))

# --- row 3: service.billing ---------------------------------------------------------------------------------

p = MAIN.customer("D-R3-BILLING-OUT", "US", ENERGY)
MAIN.sendgrid_group_unsubscribe(p, 201, "Billing Notices", FEB)
MAIN.sendgrid_group_unsubscribe(p, 202, "Outage Alerts", FEB)
add(
    case("r3-billing-opt-out-still-required", p, "email", BILLING, ENERGY, "service_required",
         proves="row 3 before row 4: service.billing cannot be opted out of"),
    case("r3-outage-opt-out-honoured", p, "email", OUTAGE, ENERGY, "opted_out",
         proves="row 3 pair: the same opt-out of service.outage is honoured (row 4)"),
)
p = MAIN.customer("D-R3-NOEM", "GB", MOTORS)
MAIN.legacy(p, MOTORS, dt.date(2025, 6, 1), flags="YNNNN")
add(
    case("r3-legacy-no-email-billing", p, "email", BILLING, MOTORS, "service_required",
         proves="row 3: a legacy NO_EMAIL (every purpose by email) still leaves bills allowed"),
    case("r4-legacy-no-email-account", p, "email", ACCOUNT, MOTORS, "opted_out",
         proves="row 4 before row 5: ... but service.account is opted out"),
    case("r4-legacy-no-email-marketing", p, "email", NEWSLETTER, MOTORS, "opted_out",
         proves="row 4: ... and so is marketing"),
    case("r4-legacy-no-email-phone-unaffected", p, "voice", OFFERS, MOTORS, "opt_out_model",
         proves="row 4 pair: NO_EMAIL leaves the phone alone (GB voice: opt-out model)"),
)

p = MAIN.customer("D-R4-OUTAGE-OUT", "US", ENERGY)
MAIN.call_centre(p, ENERGY, FEB, {"sms_outage_alerts": "no"})
add(
    case("r4-service-opt-out", p, "sms", OUTAGE, ENERGY, "opted_out",
         proves="row 4 before row 5: an opted-out service purpose is not allowed"),
    case("r5-other-service-purpose", p, "sms", ACCOUNT, ENERGY, "service_allowed",
         proves="row 5 pair: another service purpose on the same number is allowed"),
    case("r5-same-purpose-other-channel", p, "email", OUTAGE, ENERGY, "service_allowed",
         proves="row 5 pair: the same purpose by email is allowed"),
)
p = MAIN.customer("D-R4-DONT-MARKET", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.dont_market(p, FEB)
add(
    case("r4-dont-market-email", p, "email", OFFERS, MOTORS, "opted_out",
         proves="row 4: Salesforce HasOptedOutSolicit opts out of all marketing on every channel"),
    case("r4-dont-market-door", p, "door", THIRD_PARTY, MOTORS, "opted_out",
         proves="row 4: ... the door and marketing.third_party included"),
    case("r4-dont-market-service", p, "voice", OUTAGE, MOTORS, "service_allowed",
         proves="row 5 pair: 'Don't Market' leaves service purposes allowed"),
)
p = MAIN.customer("D-R4-STOP", "US", ENERGY)
written = MAIN.salesforce(p, JAN, cp_type="Phone", channel="SMS")
MAIN.twilio_inbound(p, "+18885550100", "STOP", FEB)
add(
    case("r4-sms-stop-offers", p, "sms", OFFERS, ENERGY, "opted_out",
         proves="row 4: STOP to the offers number opts out of what that number sends (offers)"),
    case("r4-sms-stop-newsletter", p, "sms", NEWSLETTER, ENERGY, "opted_out", proves="row 4: ... and newsletter"),
    case("r4-sms-stop-other-purposes", p, "sms", REMINDERS, ENERGY, "express_consent", decided_by=written,
         proves="row 4 pair: purposes the number does not send keep the written opt-in"),
)

# --- row 7: do-not-call registries (all fresh) ---------------------------------------------------------------

p = MAIN.customer("D-R7-US-LISTED", "US", ENERGY)
listed("us_ftc", p.phone)
add(
    case("r7-us-voice-listed", p, "voice", OFFERS, ENERGY, "dnc_registry", decided_by=US_DNC,
         proves="row 7: US voice, number on the National DNC, no express opt-in"),
    case("r7-us-sms-listed", p, "sms", NEWSLETTER, ENERGY, "dnc_registry", decided_by=US_DNC,
         proves="row 7: the registry applies to sms in the US too"),
    case("r7-us-email-not-a-registry-channel", p, "email", OFFERS, ENERGY, "opt_out_model",
         proves="row 7 pair: the registry blocks phone channels only"),
    case("r5-before-r7-service-on-listed-number", p, "sms", OUTAGE, ENERGY, "service_allowed",
         proves="row 5 before row 7: service messages to a listed number are allowed"),
    case("r3-before-r7-billing-on-listed-number", p, "voice", BILLING, ENERGY, "service_required",
         proves="row 3 before row 7"),
)
p = MAIN.customer("D-R7-US-DELISTED", "US", ENERGY)
MAIN.registry("us_ftc", utc("2026-02-10T03:00:00Z"), [p.phone or ""])
# The older snapshot also lists a number the newer one keeps: the newer un-lists one of two numbers, exactly
# the rules' share (only more is held, feeds.md §11), so it replaces the older one.
MAIN.registries[utc("2026-02-10T03:00:00Z")]["us_ftc"] += MAIN.registries[MAIN_REGISTRY_DELIVERY]["us_ftc"][:1]
add(case("r7-only-newest-snapshot-counts", p, "voice", OFFERS, ENERGY, "opt_out_model",
         proves="row 7 pair: listed in an older snapshot, absent from the newest: no longer listed"))

p = MAIN.customer("D-R7-US-VERBAL", "US", ENERGY)
listed("us_ftc", p.phone)
capture = MAIN.call_centre(p, ENERGY, JAN, {"phone_offers": "yes", "sms_offers": "yes"})
add(
    case("r7-us-verbal-lifts-registry-voice", p, "voice", OFFERS, ENERGY, "express_consent", decided_by=capture,
         proves="row 7: a spoken express opt-in counts for a voice call to a listed number"),
    case("r7-us-verbal-sms-not-written", p, "sms", OFFERS, ENERGY, "no_consent",
         proves="rows 7 and 11: the spoken opt-in is an express opt-in for the key, but US sms needs it "
                "written (TCPA)"),
)
p = MAIN.customer("D-R7-US-ENDED", "US", ENERGY)
listed("us_ftc", p.phone)
MAIN.salesforce(p, utc("2025-06-01T10:00:00Z"), cp_type="Phone", effective_to=FEB)
add(case("r7-ended-opt-in-does-not-lift-registry", p, "voice", OFFERS, ENERGY, "dnc_registry",
         proves="row 7: an opt-in past its EffectiveTo is no express opt-in for the key"))

# --- row 8: pending double opt-in --------------------------------------------------------------------------

p = MAIN.customer("D-R8-PENDING-GB", "GB", HOME)
MAIN.preference_centre(p, "lakeside_home.offers", subscribed=True, doi_status="Pending", at=FEB)
add(case("r8-pending", p, "email", OFFERS, HOME, "pending_double_opt_in",
         proves="row 8: an unconfirmed double opt-in is not a permission"))
p = MAIN.customer("D-R8-PENDING-US", "US", ENERGY)
MAIN.preference_centre(p, "lakeside_energy.offers", subscribed=True, doi_status="Pending", at=FEB)
add(
    case("r8-pending-before-opt-out-model", p, "email", OFFERS, ENERGY, "pending_double_opt_in",
         proves="row 8 before row 9: pending never permits marketing, even under the US opt-out model"),
    case("r8-pending-is-per-purpose", p, "email", NEWSLETTER, ENERGY, "opt_out_model",
         proves="row 8 pair: the other purposes stay on the opt-out model"),
)
p = MAIN.customer("D-R8-CONFIRMED", "GB", HOME)
MAIN.preference_centre(p, "lakeside_home.offers", subscribed=True, doi_status="Confirmed",
                       at=utc("2026-02-01T09:00:00Z"), confirm=FEB)
add(case("r8-confirmed", p, "email", OFFERS, HOME, "express_consent",
         proves="row 8 pair: once confirmed, the double opt-in is an express opt-in"))
p = MAIN.customer("D-R8-AFTER-OPT-IN", "GB", HOME)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=HOME)
MAIN.preference_centre(p, "lakeside_home.offers", subscribed=True, doi_status="Pending", at=FEB)
add(case("r8-pending-never-replaces-opt-in", p, "email", OFFERS, HOME, "express_consent", decided_by=given,
         proves="row 8: a re-submitted sign-up cannot suspend an opt-in"))
p = MAIN.customer("D-R8-ONETRUST", "GB", MOTORS)
MAIN.onetrust(p, FEB, "6f1f5c8e-0000-4000-8000-00000000a001", "PENDING")
add(case("r8-onetrust-pending-voice", p, "voice", OFFERS, MOTORS, "pending_double_opt_in",
         proves="row 8 before row 9: a OneTrust PENDING (party-level for voice) blocks the opt-out model"))

# --- row 9: each basis, and each window on either side of its boundary ------------------------------------

p = MAIN.customer("D-R9-SF-EXPRESS", "GB", MOTORS)
given = MAIN.salesforce(p, FEB, channel="Email", purpose="Newsletter", brand=MOTORS)
add(case("r9-express", p, "email", NEWSLETTER, MOTORS, "express_consent", decided_by=given,
         proves="row 9: express_consent (no lifetime: valid_until NULL)"))
p = MAIN.customer("D-R9-US-SMS-START", "US", ENERGY)
MAIN.twilio_inbound(p, "+18885550100", "START", FEB)
add(
    case("r9-us-sms-start-is-written", p, "sms", OFFERS, ENERGY, "express_consent",
         proves="template US sms: START (a text message) is a written express opt-in"),
    case("r9-us-sms-start-scope", p, "sms", REMINDERS, ENERGY, "no_consent",
         proves="template US sms pair: only for what the number sends"),
)
p = MAIN.customer("D-R9-POS", "GB", MOTORS)
receipt = MAIN.pos_receipt(p, "S-UK-MOT", utc("2026-01-20T14:30:00Z"), optin_sms=True)
add(
    case("r9-pos-receipt-is-a-purchase", p, "email", NEWSLETTER, MOTORS, "soft_opt_in", decided_by=receipt,
         proves="row 9: a till receipt is a purchase from the store's brand (soft opt-in)"),
    case("r9-pos-ticked-box-is-express", p, "sms", OFFERS, MOTORS, "express_consent",
         proves="row 9: a ticked box is an express opt-in (before soft_opt_in)"),
)

# third-party consent lasts 183 days from capture
lead, lead_id = MAIN.lead("D-R9-TP-IN", "GB", MOTORS, A - LEAD_LIFE + SEC)
add(case("r9-third-party-183d-in", lead, "email", OFFERS, MOTORS, "third_party_consent",
         valid_until=A + SEC, decided_by=lead_id, region="GB",
         proves="row 9: a third-party opt-in captured 183 days less a second ago is still usable"))
lead, lead_id = MAIN.lead("D-R9-TP-OUT", "GB", MOTORS, A - LEAD_LIFE - SEC)
add(case("r10-third-party-183d-out", lead, "email", OFFERS, MOTORS, "consent_expired", decided_by=lead_id,
         proves="row 10 pair: 183 days and a second after capture it has run out"))
lead, lead_id = MAIN.lead("D-R9-TP-US-OUT", "US", ENERGY, A - LEAD_LIFE - SEC)
add(case("r9-before-r10-expired-third-party-us", lead, "voice", OFFERS, ENERGY, "opt_out_model",
         proves="row 9 before row 10: an expired lead still leaves US voice on the opt-out model"))

# --- row 10: consent expired ---------------------------------------------------------------------------------

p = MAIN.customer("D-R10-ENDS-NOW", "GB", MOTORS)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=MOTORS, effective_to=A)
add(case("r10-effective-to-reached", p, "email", OFFERS, MOTORS, "consent_expired", decided_by=given,
         proves="row 10: EffectiveTo ends the opt-in at that time (here: as_of)"))
p = MAIN.customer("D-R10-ENDS-NEXT", "GB", MOTORS)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=MOTORS,
                        effective_to=A + SEC)
add(case("r10-effective-to-not-reached", p, "email", OFFERS, MOTORS, "express_consent", valid_until=A + SEC,
         decided_by=given, proves="row 10 pair: a second before EffectiveTo the opt-in holds, valid_until set"))
p = MAIN.customer("D-P-US-LI", "US", ENERGY)
account = MAIN.legacy(p, ENERGY, dt.date(2019, 3, 1))
add(case("precedence-legitimate-interest-over-opt-out-model", p, "voice", OFFERS, ENERGY,
         "legitimate_interest", decided_by=account, proves="precedence: legitimate_interest before opt_out_model"))
# --- the country override when the phone decides the country ------------------------------------------------

p = MAIN.customer("D-DE-BY-PHONE", "DE", HOME, record_country=False)
MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=HOME)
add(case("region-from-phone-de-email-needs-double-opt-in", p, "email", OFFERS, HOME, "no_consent", region="EU",
         proves="company.md: with no country the phone's country (DE) decides, its override included"))
p = MAIN.customer("D-DE-BY-PHONE-DOI", "DE", HOME, record_country=False)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=HOME, double_opt_in=JAN)
add(case("region-from-phone-de-email-double-opt-in", p, "email", OFFERS, HOME, "express_consent", region="EU",
         decided_by=given, proves="company.md pair: with a double opt-in it is allowed"))
# fmt: on


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_decision(case: Case, runner: Runner) -> None:
    """The row's allowed, reason and valid_until (and decided_by, region where given) follow the table."""
    check(case, runner(case.run))


def test_allowed_rows_have_not_run_out(runner: Runner) -> None:
    """§5: valid_until is when the consent runs out, so no allowed row's valid_until lies before the run."""
    outcome = runner("main")
    ran_out = sorted(
        (*key[:4], row.reason, f"{row.valid_until}")
        for key, row in outcome.permissions.items()
        if row.allowed and row.valid_until is not None and row.valid_until < MAIN_AS_OF
    )
    assert outcome.permissions  # the world's rows are there
    assert ran_out == [], "\n".join(map(str, ran_out))
