"""The permission decision table (semantics §5, rows 1-11, first that applies) on the MAIN world, run as of
2026-03-01T06:00:00Z with fresh registries (row 6, a stale or missing registry: test_registry_freshness).

Every window is tested with a pair of parties on either side of its boundary: the exact boundary instant
(inside: the spec's windows are "≤ N months", calendar months) against one second older (outside); a
lifetime (third-party 183 days, AU 3 months, Salesforce EffectiveTo) one second on either side of its end.
Reason precedence (row 9: express_consent, soft_opt_in, implied_consent, inferred_consent,
third_party_consent, legitimate_interest, opt_out_model) is tested with parties holding two bases at once.
Each party is built right above the cases that read its rows; `proves=` says which rule a case proves.
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
from tests.permissions.world import add_months, sha256_cp, utc

A = MAIN_AS_OF
SEC = dt.timedelta(seconds=1)
LEAD_LIFE = dt.timedelta(days=183)
US_DNC, CA_DNC, UK_TPS, AU_DNCR = (
    f"registry:{r}/{MAIN_REGISTRY_DELIVERY:%Y-%m-%dT%H%M%SZ}"
    for r in ("us_ftc", "ca_dncl", "uk_tps", "au_dncr")
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
p = MAIN.customer("D-R1-ERASED-BOUNCED", "GB", MOTORS)
MAIN.express_everywhere(p, JAN)
MAIN.sendgrid_bounce(p, utc("2026-01-20T00:00:00Z"))
MAIN.erasure(p, FEB)
add(case("r1-erased-before-undeliverable", p, "email", OFFERS, MOTORS, "erased",
         contact_point=sha256_cp(p.cp("email")),
         proves="row 1 before row 2: an erased and undeliverable address is reported erased"))
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

# --- row 4: opted out ---------------------------------------------------------------------------------------

p = MAIN.customer("D-R4-OUT-LATER", "GB", MOTORS)
MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=MOTORS)
last = MAIN.salesforce(p, FEB, channel="Email", purpose="Promotional Offers", brand=MOTORS, status="OptOut")
add(case("r4-newer-opt-out-wins", p, "email", OFFERS, MOTORS, "opted_out", decided_by=last,
         proves="row 4: the latest event is an opt-out"))
p = MAIN.customer("D-R4-IN-LATER", "GB", MOTORS)
MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=MOTORS, status="OptOut")
last = MAIN.salesforce(p, FEB, channel="Email", purpose="Promotional Offers", brand=MOTORS)
add(case("r4-newer-opt-in-wins", p, "email", OFFERS, MOTORS, "express_consent", decided_by=last,
         proves="row 4 pair: an opt-out replaced by a newer opt-in no longer blocks"))
p = MAIN.customer("D-R4-US-EMAIL-OUT", "US", ENERGY)
out = MAIN.salesforce(p, FEB, channel="Email", purpose="Marketing", status="OptOut")
add(
    case("r4-opt-out-beats-opt-out-model", p, "email", NEWSLETTER, ENERGY, "opted_out", decided_by=out,
         proves="row 4 before row 9: an opt-out ends even the US email opt-out model"),
    case("r4-opt-out-is-per-channel", p, "voice", NEWSLETTER, ENERGY, "opt_out_model",
         proves="row 4 pair: the email opt-out leaves voice on the opt-out model"),
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

# --- row 5: other service purposes -------------------------------------------------------------------------

p = MAIN.customer("D-R5-OTHER", "CH", HOME)
add(
    case("r5-other-region-email-outage", p, "email", OUTAGE, HOME, "service_allowed", region="OTHER",
         proves="row 5: service purposes follow the same rules everywhere, OTHER included"),
    case("r5-other-region-mail-account", p, "mail", ACCOUNT, HOME, "service_allowed",
         proves="row 5: service.account by mail"),
    case("r3-other-region-sms-billing", p, "sms", BILLING, HOME, "service_required",
         proves="row 3: service.billing in OTHER"),
    case("r11-other-region-marketing", p, "sms", OFFERS, HOME, "no_consent",
         proves="row 11 pair: the same number without consent gets no marketing in OTHER"),
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

# US established business relationship: purchase ≤ 18 months, inquiry ≤ 3 months (voice only)
for label, kind, months in (("P18", "purchase", 18), ("I3", "inquiry", 3)):
    edge = add_months(A, -months)
    p = MAIN.customer(f"D-R7-US-EBR-{label}-IN", "US", ENERGY)
    listed("us_ftc", p.phone)
    txn = MAIN.txn(p, ENERGY, kind, edge)
    add(
        case(f"r7-us-ebr-{kind}-{months}m-in", p, "voice", OFFERS, ENERGY, "established_relationship",
             valid_until=add_months(edge, months), decided_by=txn,
             proves=f"row 7: US voice relationship exemption, {kind} exactly {months} months ago (≤ {months})"),
        case(f"r7-us-ebr-{kind}-{months}m-sms", p, "sms", OFFERS, ENERGY, "dnc_registry",
             proves="row 7: the relationship exemption is for voice only"),
    )
    p = MAIN.customer(f"D-R7-US-EBR-{label}-OUT", "US", ENERGY)
    listed("us_ftc", p.phone)
    MAIN.txn(p, ENERGY, kind, edge - SEC)
    add(case(f"r7-us-ebr-{kind}-{months}m-out", p, "voice", OFFERS, ENERGY, "dnc_registry", decided_by=US_DNC,
             proves=f"row 7 pair: {kind} {months} months and one second ago: no relationship"))

p = MAIN.customer("D-R7-US-EBR-OTHER-BRAND", "US", (ENERGY, HOME))
listed("us_ftc", p.phone)
txn = MAIN.txn(p, HOME, "purchase", MONTH_AGO)
add(
    case("r7-us-ebr-is-per-brand-home", p, "voice", OFFERS, HOME, "established_relationship",
         valid_until=add_months(MONTH_AGO, 18), decided_by=txn,
         proves="row 7: the relationship exempts calls for the brand it is with"),
    case("r7-us-ebr-is-per-brand-energy", p, "voice", OFFERS, ENERGY, "dnc_registry",
         proves="row 7 pair: ... not for another brand of the group"),
)
p = MAIN.customer("D-R7-US-EXPRESS", "US", ENERGY)
listed("us_ftc", p.phone)
written = MAIN.salesforce(p, JAN, cp_type="Phone")
add(
    case("r7-us-express-lifts-registry-voice", p, "voice", OFFERS, ENERGY, "express_consent", decided_by=written,
         proves="row 7: an express opt-in for the key lifts the registry (voice)"),
    case("r7-us-express-lifts-registry-sms", p, "sms", OFFERS, ENERGY, "express_consent", decided_by=written,
         proves="row 7: ... and sms"),
)
p = MAIN.customer("D-R7-US-EXPRESS-EBR", "US", ENERGY)
listed("us_ftc", p.phone)
written = MAIN.salesforce(p, JAN, cp_type="Phone")
MAIN.txn(p, ENERGY, "purchase", MONTH_AGO)
add(case("r7-express-before-established-relationship", p, "voice", OFFERS, ENERGY, "express_consent",
         decided_by=written,
         proves="row 7: established_relationship is the reason only when the registry would otherwise block"))
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
p = MAIN.customer("D-R7-US-OPTED-OUT", "US", ENERGY)
listed("us_ftc", p.phone)
MAIN.salesforce(p, FEB, cp_type="Phone", channel="Phone Call", status="OptOut")
add(case("r4-before-r7", p, "voice", OFFERS, ENERGY, "opted_out",
         proves="row 4 before row 7: a listed number that opted out is reported opted_out"))
p = MAIN.customer("D-R7-US-ENDED", "US", ENERGY)
listed("us_ftc", p.phone)
MAIN.salesforce(p, utc("2025-06-01T10:00:00Z"), cp_type="Phone", effective_to=FEB)
add(case("r7-ended-opt-in-does-not-lift-registry", p, "voice", OFFERS, ENERGY, "dnc_registry",
         proves="row 7: an opt-in past its EffectiveTo is no express opt-in for the key"))

# CA relationship: purchase ≤ 18 months, inquiry ≤ 6 months (voice only)
for label, kind, months in (("P18", "purchase", 18), ("I6", "inquiry", 6)):
    edge = add_months(A, -months)
    p = MAIN.customer(f"D-R7-CA-EBR-{label}-IN", "CA", ENERGY)
    listed("ca_dncl", p.phone)
    txn = MAIN.txn(p, ENERGY, kind, edge)
    add(case(f"r7-ca-ebr-{kind}-{months}m-in", p, "voice", OFFERS, ENERGY, "established_relationship",
             valid_until=add_months(edge, months), decided_by=txn,
             proves=f"row 7: CA voice relationship exemption, {kind} exactly {months} months ago"))
    p = MAIN.customer(f"D-R7-CA-EBR-{label}-OUT", "CA", ENERGY)
    listed("ca_dncl", p.phone)
    MAIN.txn(p, ENERGY, kind, edge - SEC)
    add(case(f"r7-ca-ebr-{kind}-{months}m-out", p, "voice", OFFERS, ENERGY, "dnc_registry", decided_by=CA_DNC,
             proves=f"row 7 pair: {kind} {months} months and one second ago: the DNCL blocks"))

p = MAIN.customer("D-R7-CA-IMPLIED", "CA", ENERGY)
listed("ca_dncl", p.phone)
txn = MAIN.txn(p, ENERGY, "purchase", MONTH_AGO)
add(
    case("r7-ca-sms-registry-before-implied", p, "sms", OFFERS, ENERGY, "dnc_registry", decided_by=CA_DNC,
         proves="row 7 before row 9: the DNCL applies to CA sms; implied consent does not lift it"),
    case("r7-ca-email-implied-unaffected", p, "email", OFFERS, ENERGY, "implied_consent",
         valid_until=add_months(MONTH_AGO, 24), decided_by=txn,
         proves="row 9: the same purchase gives implied consent by email"),
    case("r7-ca-voice-relationship", p, "voice", OFFERS, ENERGY, "established_relationship",
         valid_until=add_months(MONTH_AGO, 18), decided_by=txn, proves="row 7: ... and exempts voice calls"),
)
p = MAIN.customer("D-R7-CA-EXPRESS", "CA", ENERGY)
listed("ca_dncl", p.phone)
written = MAIN.salesforce(p, JAN, cp_type="Phone")
add(case("r7-ca-express-lifts-registry-sms", p, "sms", OFFERS, ENERGY, "express_consent", decided_by=written,
         proves="row 7 pair: an express opt-in lifts the DNCL for sms"))

p = MAIN.customer("D-R7-GB-LISTED", "GB", MOTORS)
listed("uk_tps", p.phone)
txn = MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
add(
    case("r7-gb-voice-tps-no-relationship-exemption", p, "voice", OFFERS, MOTORS, "dnc_registry",
         decided_by=UK_TPS, proves="row 7: the TPS blocks GB calls; GB has no relationship exemption"),
    case("r7-gb-sms-not-a-tps-channel", p, "sms", OFFERS, MOTORS, "soft_opt_in", decided_by=txn,
         proves="row 7 pair: the TPS does not cover sms (soft opt-in applies)"),
)
p = MAIN.customer("D-R7-GB-EXPRESS", "GB", MOTORS)
listed("uk_tps", p.phone)
written = MAIN.salesforce(p, JAN, cp_type="Phone", channel="Phone Call")
add(case("r7-gb-express-overrides-tps", p, "voice", OFFERS, MOTORS, "express_consent", decided_by=written,
         proves="template GB voice: the TPS applies unless express opt-in"))

p = MAIN.customer("D-R7-AU-LISTED", "AU", MOTORS)
listed("au_dncr", p.phone)
txn = MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
add(
    case("r7-au-voice-dncr-no-relationship-exemption", p, "voice", OFFERS, MOTORS, "dnc_registry",
         decided_by=AU_DNCR, proves="row 7: the DNCR blocks AU calls; AU has no relationship exemption"),
    case("r7-au-sms-not-a-dncr-channel", p, "sms", OFFERS, MOTORS, "inferred_consent",
         valid_until=add_months(MONTH_AGO, 24), decided_by=txn,
         proves="row 7 pair: the DNCR does not cover sms (inferred consent applies)"),
)
# AU: an express opt-in stating no period lasts 3 months for a listed number
lapse = add_months(A, -3)
p = MAIN.customer("D-R7-AU-3M-IN", "AU", MOTORS)
listed("au_dncr", p.phone)
given = MAIN.salesforce(p, lapse + SEC, cp_type="Phone", channel="Phone Call")
add(case("r7-au-express-no-period-within-3m", p, "voice", OFFERS, MOTORS, "express_consent",
         valid_until=A + SEC, decided_by=given,
         proves="template AU voice: an opt-in without a period given 3 months less a second ago still holds"))
p = MAIN.customer("D-R7-AU-3M-OUT", "AU", MOTORS)
listed("au_dncr", p.phone)
MAIN.salesforce(p, lapse - SEC, cp_type="Phone")
add(
    case("r7-au-express-no-period-lapsed", p, "voice", OFFERS, MOTORS, "dnc_registry", decided_by=AU_DNCR,
         proves="template AU voice pair: 3 months and a second later the listing blocks again"),
    case("r7-au-lapse-is-voice-only", p, "sms", OFFERS, MOTORS, "express_consent",
         proves="the 3-month lapse is about the DNCR (voice); the sms opt-in stands"),
)
p = MAIN.customer("D-R7-AU-PERIOD", "AU", MOTORS)
listed("au_dncr", p.phone)
stated = MAIN.salesforce(p, utc("2025-06-01T10:00:00Z"), cp_type="Phone", channel="Phone Call",
                         effective_to=utc("2026-12-31T23:59:59Z"))
add(case("r7-au-express-with-period", p, "voice", OFFERS, MOTORS, "express_consent",
         valid_until=utc("2026-12-31T23:59:59Z"), decided_by=stated,
         proves="template AU voice: an opt-in that states its period lasts that period"))
p = MAIN.customer("D-R7-AU-UNLISTED", "AU", MOTORS)
given = MAIN.salesforce(p, utc("2025-06-01T10:00:00Z"), cp_type="Phone", channel="Phone Call")
add(case("r7-au-lapse-only-for-listed-numbers", p, "voice", OFFERS, MOTORS, "express_consent",
         decided_by=given, proves="template AU voice: an unlisted number's opt-in does not lapse"))

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
p = MAIN.customer("D-R8-AFTER-OPT-OUT", "GB", HOME)
MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=HOME, status="OptOut")
MAIN.preference_centre(p, "lakeside_home.offers", subscribed=True, doi_status="Pending", at=FEB)
add(case("r8-pending-replaces-opt-out", p, "email", OFFERS, HOME, "pending_double_opt_in",
         proves="row 8: a pending replaces an opt-out"))
p = MAIN.customer("D-R8-PENDING-SOFT", "GB", HOME)
MAIN.txn(p, HOME, "purchase", MONTH_AGO)
MAIN.preference_centre(p, "lakeside_home.offers", subscribed=True, doi_status="Pending", at=FEB)
add(
    case("r8-pending-before-soft-opt-in", p, "email", OFFERS, HOME, "pending_double_opt_in",
         proves="row 8 before row 9: pending blocks although the soft opt-in would allow"),
    case("r8-pending-soft-opt-in-other-purpose", p, "email", NEWSLETTER, HOME, "soft_opt_in",
         proves="row 8 pair: the newsletter has no pending state and the soft opt-in applies"),
)
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

# CA implied consent: purchase / contract ≤ 24 months, inquiry ≤ 6 months (email and sms)
for label, kind, months in (("P24", "purchase", 24), ("CS24", "contract_start", 24),
                            ("CE24", "contract_end", 24), ("I6", "inquiry", 6)):
    edge = add_months(A, -months)
    p = MAIN.customer(f"D-R9-CA-{label}-IN", "CA", ENERGY)
    txn = MAIN.txn(p, ENERGY, kind, edge)
    add(
        case(f"r9-ca-implied-{kind}-{months}m-in-email", p, "email", OFFERS, ENERGY, "implied_consent",
             valid_until=add_months(edge, months), decided_by=txn,
             proves=f"template CA email: implied consent, {kind} exactly {months} months ago (≤ {months})"),
        case(f"r9-ca-implied-{kind}-{months}m-in-sms", p, "sms", NEWSLETTER, ENERGY, "implied_consent",
             valid_until=add_months(edge, months), decided_by=txn, proves="template CA sms: as email"),
    )
    p = MAIN.customer(f"D-R9-CA-{label}-OUT", "CA", ENERGY)
    MAIN.txn(p, ENERGY, kind, edge - SEC)
    add(
        case(f"r9-ca-implied-{kind}-{months}m-out-email", p, "email", OFFERS, ENERGY, "no_consent",
             proves=f"template CA email pair: {kind} {months} months and one second ago -> no_consent"),
        case(f"r9-ca-implied-{kind}-{months}m-out-sms", p, "sms", NEWSLETTER, ENERGY, "no_consent",
             proves="template CA sms pair: as email"),
    )
p = MAIN.customer("D-R9-CA-LONGEST", "CA", ENERGY)
MAIN.txn(p, ENERGY, "purchase", utc("2024-06-01T12:00:00Z"))
MAIN.txn(p, ENERGY, "inquiry", utc("2026-01-15T12:00:00Z"))
add(case("r9-ca-implied-valid-until-longest", p, "email", OFFERS, ENERGY, "implied_consent",
         valid_until=utc("2026-07-15T12:00:00Z"),
         proves="template CA: with a purchase and a newer inquiry, implied consent runs to the later end"))

# AU inferred consent: purchase ≤ 24 months
edge = add_months(A, -24)
p = MAIN.customer("D-R9-AU-P24-IN", "AU", MOTORS)
txn = MAIN.txn(p, MOTORS, "purchase", edge)
add(case("r9-au-inferred-purchase-24m-in", p, "email", OFFERS, MOTORS, "inferred_consent", valid_until=A,
         decided_by=txn, proves="template AU email: inferred from a purchase exactly 24 months ago"))
p = MAIN.customer("D-R9-AU-P24-OUT", "AU", MOTORS)
MAIN.txn(p, MOTORS, "purchase", edge - SEC)
add(case("r9-au-inferred-purchase-24m-out", p, "sms", OFFERS, MOTORS, "no_consent",
         proves="template AU sms pair: 24 months and one second ago -> no_consent"))
p = MAIN.customer("D-R9-AU-INQUIRY", "AU", MOTORS)
MAIN.txn(p, MOTORS, "inquiry", MONTH_AGO)
add(case("r9-au-inquiry-infers-nothing", p, "email", OFFERS, MOTORS, "no_consent",
         proves="template AU email: inferred consent needs a purchase, not an inquiry"))

# GB / EU soft opt-in: a customer with a purchase from that brand, for that brand's own marketing
p = MAIN.customer("D-R9-GB-SOFT-OLD", "GB", MOTORS)
txn = MAIN.txn(p, MOTORS, "purchase", utc("2021-01-10T12:00:00Z"))
add(case("r9-gb-soft-opt-in-has-no-window", p, "email", REMINDERS, MOTORS, "soft_opt_in", decided_by=txn,
         proves="template GB email: the spec sets no window on the soft opt-in's purchase"))
p = MAIN.customer("D-R9-GB-SOFT-BRAND", "GB", (MOTORS, HOME))
txn = MAIN.txn(p, HOME, "purchase", MONTH_AGO)
add(
    case("r9-gb-soft-opt-in-own-brand", p, "sms", OFFERS, HOME, "soft_opt_in", decided_by=txn,
         proves="template GB sms: soft opt-in for the brand that sold"),
    case("r9-gb-soft-opt-in-not-other-brand", p, "sms", OFFERS, MOTORS, "no_consent",
         proves="template GB sms pair: not for another brand of the group"),
    case("r9-gb-soft-opt-in-not-third-party", p, "email", THIRD_PARTY, HOME, "no_consent",
         proves="template GB: never for marketing.third_party"),
)
p = MAIN.customer("D-R9-GB-INQUIRY", "GB", MOTORS)
MAIN.txn(p, MOTORS, "inquiry", MONTH_AGO)
add(case("r9-gb-inquiry-is-no-purchase", p, "email", OFFERS, MOTORS, "no_consent",
         proves="template GB email: the soft opt-in needs a purchase; an inquiry is not one"))
p = MAIN.customer("D-R9-EU-SOFT", "IE", HOME)
txn = MAIN.txn(p, HOME, "purchase", MONTH_AGO)
add(case("r9-eu-soft-opt-in", p, "email", NEWSLETTER, HOME, "soft_opt_in", region="EU", decided_by=txn,
         proves="template EU email: soft opt-in as GB (Ireland is EU)"))

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
p = MAIN.customer("D-R10-US-ENDED", "US", ENERGY)
MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=ENERGY, effective_to=FEB)
add(case("r9-before-r10-us-email", p, "email", OFFERS, ENERGY, "opt_out_model",
         proves="row 9 before row 10: an ended opt-in leaves US email on the opt-out model"))
p = MAIN.customer("D-R10-GB-ENDED-SOFT", "GB", MOTORS)
MAIN.salesforce(p, JAN, channel="Email", purpose="Promotional Offers", brand=MOTORS, effective_to=FEB)
txn = MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
add(case("r9-before-r10-soft-opt-in", p, "email", OFFERS, MOTORS, "soft_opt_in", decided_by=txn,
         proves="row 9 before row 10: an ended opt-in with a purchase on file is a soft opt-in"))

# --- row 11: no consent ----------------------------------------------------------------------------------

p = MAIN.customer("D-R11-GB", "GB", MOTORS)
add(case("r11-no-consent", p, "email", OFFERS, MOTORS, "no_consent", decided_by="",
         proves="row 11: nothing on file in an opt-in cell"))

# --- reason precedence (several bases at once) ---------------------------------------------------------

p = MAIN.customer("D-P-GB-EXPRESS-SOFT", "GB", MOTORS)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=MOTORS)
MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
add(case("precedence-express-over-soft", p, "email", OFFERS, MOTORS, "express_consent", decided_by=given,
         proves="precedence: express_consent before soft_opt_in"))
p = MAIN.customer("D-P-GB-SOFT-LEAD", "GB", MOTORS)
txn = MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
MAIN.lead("D-P-GB-SOFT-LEAD", "GB", MOTORS, FEB, email=p.email, phone=p.phone)
add(case("precedence-soft-over-third-party", p, "email", OFFERS, MOTORS, "soft_opt_in", decided_by=txn,
         proves="precedence: soft_opt_in before third_party_consent"))
p = MAIN.customer("D-P-CA-EXPRESS-IMPLIED", "CA", ENERGY)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=ENERGY)
MAIN.txn(p, ENERGY, "purchase", MONTH_AGO)
add(case("precedence-express-over-implied", p, "email", OFFERS, ENERGY, "express_consent", decided_by=given,
         proves="precedence: express_consent before implied_consent (express consent does not expire)"))
p = MAIN.customer("D-P-CA-IMPLIED-LEAD", "CA", ENERGY)
txn = MAIN.txn(p, ENERGY, "purchase", MONTH_AGO)
MAIN.lead("D-P-CA-IMPLIED-LEAD", "CA", ENERGY, FEB, email=p.email, phone=p.phone)
add(case("precedence-implied-over-third-party", p, "sms", OFFERS, ENERGY, "implied_consent",
         valid_until=add_months(MONTH_AGO, 24), decided_by=txn,
         proves="precedence: implied_consent before third_party_consent"))
p = MAIN.customer("D-P-AU-EXPRESS-INFERRED", "AU", MOTORS)
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=MOTORS)
MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
add(case("precedence-express-over-inferred", p, "email", OFFERS, MOTORS, "express_consent", decided_by=given,
         proves="precedence: express_consent before inferred_consent"))
p = MAIN.customer("D-P-AU-INFERRED-LEAD", "AU", MOTORS)
txn = MAIN.txn(p, MOTORS, "purchase", MONTH_AGO)
MAIN.lead("D-P-AU-INFERRED-LEAD", "AU", MOTORS, FEB, email=p.email, phone=p.phone)
add(case("precedence-inferred-over-third-party", p, "email", OFFERS, MOTORS, "inferred_consent",
         valid_until=add_months(MONTH_AGO, 24), decided_by=txn,
         proves="precedence: inferred_consent before third_party_consent"))
p = MAIN.customer("D-P-US-LEAD", "US", ENERGY)
_, lead_id = MAIN.lead("D-P-US-LEAD", "US", ENERGY, FEB, email=p.email, phone=p.phone)
add(
    case("precedence-third-party-over-opt-out-model", p, "email", OFFERS, ENERGY, "third_party_consent",
         valid_until=FEB + LEAD_LIFE, decided_by=lead_id,
         proves="precedence: third_party_consent before opt_out_model (a lead on a customer's email)"),
    case("precedence-third-party-covers-offers-only", p, "email", NEWSLETTER, ENERGY, "opt_out_model",
         proves="precedence pair: the lead covers offers only"),
)
p = MAIN.customer("D-P-US-LI", "US", ENERGY)
account = MAIN.legacy(p, ENERGY, dt.date(2019, 3, 1))
add(case("precedence-legitimate-interest-over-opt-out-model", p, "voice", OFFERS, ENERGY,
         "legitimate_interest", decided_by=account, proves="precedence: legitimate_interest before opt_out_model"))
p = MAIN.customer("D-P-US-XLI", "US", ENERGY)
MAIN.legacy(p, ENERGY, dt.date(2019, 3, 1))
given = MAIN.salesforce(p, JAN, channel="Email", purpose="Marketing", brand=ENERGY)
add(case("precedence-express-over-opt-out-model", p, "email", OFFERS, ENERGY, "express_consent",
         decided_by=given, proves="precedence: express_consent before the opt-out model"))

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


def test_every_reason_of_the_table_is_covered() -> None:
    """Each reason of rows 1-5 and 7-11 (every basis of row 9) has at least one case here; row 6
    (registry_stale) is covered by test_registry_freshness."""
    table = {
        "erased", "undeliverable", "service_required", "opted_out", "service_allowed", "dnc_registry",
        "established_relationship", "pending_double_opt_in", "express_consent", "soft_opt_in",
        "implied_consent", "inferred_consent", "third_party_consent", "legitimate_interest", "opt_out_model",
        "consent_expired", "no_consent",
    }  # fmt: skip
    assert table <= {c.reason for c in CASES}, table - {c.reason for c in CASES}
