"""A landing world for the permission tests, written in the real feed formats (spec feeds.md).

Each case of the permission suite is its own party (customer or lead prospect) with its own email, phone and
postal address, its own consent events and its own activity, so that one pipeline run answers hundreds of
independent questions. A `World` collects records; `write(landing)` turns them into the landing tree
(`<landing>/<source>/<delivery>/<file>`): one delivery of every source at `World.delivery`, and the
registry snapshots at the deliveries they name.

Times are naive UTC `datetime`s; month arithmetic is calendar months (spec semantics §5), clamped to the
last day of a shorter month, exactly as the spec's "months" mean.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DELIVERY_FORMAT = "%Y-%m-%dT%H%M%SZ"

BRAND_NAMES = {
    "lakeside_energy": "Lakeside Energy",
    "lakeside_home": "Lakeside Home",
    "lakeside_motors": "Lakeside Motors",
}
LEGACY_CODES = {"lakeside_energy": "ENE", "lakeside_home": "HOM", "lakeside_motors": "MOT"}

# Phone numbers per country: E.164 prefix and the number of digits the case number fills. The ranges are
# fictional (555-xxxx, 07700 900xxx, 0491 570xxx) but "possible" for the phonenumbers library.
PHONES: dict[str, tuple[str, int]] = {
    "US": ("+1212555", 4),
    "CA": ("+1416555", 4),
    "GB": ("+447700900", 3),
    "AU": ("+61491570", 3),
    "FR": ("+33612345", 3),
    "DE": ("+4915123456", 3),
    "CH": ("+41791234", 3),
    "IE": ("+353851234", 3),
}


def utc(text: str) -> dt.datetime:
    """A naive UTC datetime from `YYYY-MM-DDTHH:MM:SSZ`."""
    return dt.datetime.strptime(text, UTC_FORMAT)


def iso(t: dt.datetime) -> str:
    return t.strftime(UTC_FORMAT)


def add_months(t: dt.datetime, months: int) -> dt.datetime:
    """Calendar-month arithmetic (negative months go back), the day clamped to the target month's length."""
    years, month0 = divmod(t.month - 1 + months, 12)
    year, month = t.year + years, month0 + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def sha256_cp(contact_point: str) -> str:
    """How an erased contact point appears in every table (outputs.md)."""
    return "sha256:" + hashlib.sha256(contact_point.encode()).hexdigest()


def prospect_id(contact_point: str) -> str:
    """A prospect's party id (outputs.md Identifiers)."""
    return "P-" + hashlib.sha256(contact_point.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Party:
    """A customer (or a lead prospect) and its normalised contact points."""

    party_id: str
    country: str
    brands: tuple[str, ...]
    email: str | None
    phone: str | None  # E.164
    postal: str | None  # normalised `LINE1, CITY, POSTCODE, CC`

    def cp(self, channel: str) -> str:
        """The contact point that carries `channel`."""
        value = {"email": self.email, "sms": self.phone, "voice": self.phone}.get(channel, self.postal)
        assert value is not None, f"{self.party_id} has no contact point for {channel}"
        return value


@dataclass
class World:
    """Records of every feed, grouped by delivery; `write` lays them out as a landing tree."""

    delivery: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 2, 28, 2, 0, 0))
    parties: dict[str, Party] = field(default_factory=dict)
    _next_number: dict[str, int] = field(default_factory=dict)
    _customers: list[list[str]] = field(default_factory=list)
    _sf_individuals: list[list[str]] = field(default_factory=list)
    _sf_consents: list[list[str]] = field(default_factory=list)
    _transactions: list[list[str]] = field(default_factory=list)
    _leads: list[list[str]] = field(default_factory=list)
    _captures: list[dict[str, object]] = field(default_factory=list)
    _legacy: list[str] = field(default_factory=list)
    _mailchimp: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    _sendgrid_bounces: list[dict[str, object]] = field(default_factory=list)
    _sendgrid_groups: list[dict[str, object]] = field(default_factory=list)
    _accounts: list[dict[str, object]] = field(default_factory=list)
    _erasures: list[dict[str, object]] = field(default_factory=list)
    _twilio: list[list[str]] = field(default_factory=list)
    _onetrust: list[dict[str, object]] = field(default_factory=list)
    _receipts: list[list[str]] = field(default_factory=list)
    # delivery -> registry -> lines (a registry delivered with no lines is an empty, valid snapshot)
    registries: dict[dt.datetime, dict[str, list[str]]] = field(default_factory=dict)

    # --- parties ----------------------------------------------------------------------------------

    def _phone(self, country: str) -> str:
        prefix, digits = PHONES[country]
        n = self._next_number.get(country, 1)
        self._next_number[country] = n + 1
        assert n < 10**digits, f"out of {country} phone numbers"
        return f"{prefix}{n:0{digits}d}"

    def customer(
        self,
        party_id: str,
        country: str,
        brands: tuple[str, ...] | str,
        *,
        record_country: bool = True,
    ) -> Party:
        """A customer-master row: the party owns its email and mobile (personal) and, as a household of
        one, its address (primary holder). `country` picks the phone range; with `record_country=False`
        the row leaves the country empty (the phone's country must then decide)."""
        assert party_id not in self.parties, party_id
        brands = (brands,) if isinstance(brands, str) else brands
        slug = party_id.lower()
        mail = f"{slug}@example.com"
        mobile = self._phone(country)
        line1, city, postcode = (
            f"{len(self.parties) + 1} Case Street",
            "Testville",
            f"TV{len(self.parties) + 1} 1AA",
        )
        cc = f", {country}" if record_country else ""
        postal_cp = f"{line1.upper()}, {city.upper()}, {postcode.replace(' ', '')}{cc}"
        self._customers.append(
            [
                party_id,
                "",
                "true",
                "Case",
                party_id,
                mail,
                mobile,
                "",
                line1,
                city,
                "",
                postcode,
                country if record_country else "",
                "customer",
                ";".join(brands),
                "2020-01-01T00:00:00Z",
                "2025-12-30T08:00:00Z",
            ]
        )
        party = Party(party_id, country, brands, mail, mobile, postal_cp)
        self.parties[party_id] = party
        return party

    def lead(
        self,
        name: str,
        country: str,
        brand: str,
        captured_at: dt.datetime,
        channels: tuple[str, ...] = ("email", "sms", "voice"),
        *,
        email: str | None = None,
        phone: str | None = None,
    ) -> tuple[Party, str]:
        """A third-party lead (basis `third_party`, purpose marketing.offers of `brand`). Without `email` /
        `phone` it is a new prospect with its own; with them it lands on those (e.g. a customer's).
        Returns the prospect and the lead id."""
        own = email is None and phone is None
        email = email or f"{name.lower()}@example.net"
        phone = phone or self._phone(country)
        lead_id = f"L-{name}-{len(self._leads) + 1}"
        self._leads.append(
            [
                lead_id,
                "LeadSpring",
                brand,
                email,
                phone,
                "Lead",
                name,
                country,
                "",
                ";".join(channels),
                "v2.1",
                iso(captured_at),
                "198.51.100.23",
            ]
        )
        party = Party(prospect_id(email), country, (brand,), email, phone, None)
        if own:
            self.parties[name] = party
        return party, lead_id

    # --- consent sources --------------------------------------------------------------------------

    def _individual(self, party: Party, dont_market_at: dt.datetime | None = None) -> str:
        ref = "0PK" + party.party_id
        existing = [r for r in self._sf_individuals if r[0] == ref]
        if dont_market_at is not None:
            for r in existing:
                self._sf_individuals.remove(r)
            existing = []
        if not existing:
            stamp = (dont_market_at or dt.datetime(2025, 12, 30, 8)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            self._sf_individuals.append([ref, party.party_id, "true" if dont_market_at else "false", "false", stamp])
        return ref

    def salesforce(
        self,
        party: Party,
        at: dt.datetime,
        *,
        cp_type: str = "Email",
        channel: str = "",
        purpose: str = "Marketing",
        brand: str | None = None,
        status: str = "OptIn",
        capture_source: str = "Web Form",
        double_opt_in: dt.datetime | None = None,
        effective_to: dt.datetime | None = None,
    ) -> str:
        """A ContactPointTypeConsent (a party-level event); blank channel = every channel of `cp_type`,
        `brand` None = every brand. Returns the record Id."""
        ref = self._individual(party)
        rec_id = f"0ZY{len(self._sf_consents) + 1:05d}"
        stamp = "%Y-%m-%dT%H:%M:%S.000+0000"
        self._sf_consents.append(
            [
                rec_id,
                f"{purpose} {party.party_id}",
                ref,
                cp_type,
                channel,
                purpose,
                BRAND_NAMES[brand] if brand else "",
                status,
                at.strftime(stamp),
                capture_source,
                cp_type,
                double_opt_in.strftime(stamp) if double_opt_in else "",
                "",
                effective_to.strftime(stamp) if effective_to else "",
                at.strftime(stamp),
            ]
        )
        return rec_id

    def express_everywhere(
        self,
        party: Party,
        at: dt.datetime,
        *,
        double_opt_in: bool = False,
    ) -> list[str]:
        """Salesforce: an opt-in of `Marketing` (every marketing purpose, third party included) on every
        channel of each of the party's contact-point types (Email, Phone, MailingAddress), every brand,
        captured from a web form (written), confirmed by double opt-in if asked. Returns the record Ids."""
        types = [
            t for t, cp in (("Email", party.email), ("Phone", party.phone), ("MailingAddress", party.postal)) if cp
        ]
        return [self.salesforce(party, at, cp_type=t, double_opt_in=at if double_opt_in else None) for t in types]

    def dont_market(self, party: Party, at: dt.datetime) -> None:
        """Salesforce Individual `HasOptedOutSolicit=true`: opt-out of all marketing, every channel and brand."""
        self._individual(party, dont_market_at=at)

    def txn(self, party: Party, brand: str, kind: str, at: dt.datetime) -> str:
        """A transactions row (purchase, inquiry, contract_start, contract_end, cancellation)."""
        txn_id = f"T-{party.party_id}-{len(self._transactions) + 1}"
        self._transactions.append([txn_id, party.party_id, brand, kind, iso(at), "10.00", "USD"])
        return txn_id

    def call_centre(self, party: Party, brand: str, at: dt.datetime, answers: dict[str, str]) -> str:
        """A verified agent capture; answers `yes` are express_verbal opt-ins, `no` opt-outs."""
        capture_id = f"CC-{len(self._captures) + 1:05d}"
        self._captures.append(
            {
                "capture_id": capture_id,
                "captured_at": at.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "agent_id": "A042",
                "brand": brand,
                "customer_id": party.party_id,
                "verified_identity": True,
                "script": "consent_update_v3",
                "answers": [{"question": q, "answer": a} for q, a in answers.items()],
            }
        )
        return capture_id

    def legacy(self, party: Party, brand: str, day: dt.date, flags: str = "NNNNN") -> str:
        """A legacy record with the five flags as `Y`/`N` (NO_EMAIL NO_PHONE NO_MAIL DPA_NO_MARKETING
        DPA_NO_FOLLOWUP), dated 00:00 UTC of `day`. With no flag set it is, by policy, an opt-in of
        `marketing` on every channel with basis legitimate_interest. Returns the legacy account number."""
        assert len(party.party_id) <= 10, "legacy customer ids have at most 10 characters"
        assert len(flags) == 5 and set(flags) <= {"Y", "N"}
        account = f"{len(self._legacy) + 1:010d}"
        self._legacy.append(f"DTL{account}{party.party_id:<10}{flags}{day:%d%m%Y}{LEGACY_CODES[brand]}")
        return account

    def mailchimp(
        self,
        party: Party,
        audience: str,
        kind: str,
        *,
        optin: dt.datetime | None = None,
        confirm: dt.datetime | None = None,
        changed: dt.datetime | None = None,
    ) -> str:
        """A Mailchimp member: kind `subscribed` (CONFIRM_TIME = double opt-in, only OPTIN_TIME = single,
        neither = imported at LAST_CHANGED), `unsubscribed` (at `changed`) or `cleaned` (at `changed`)."""
        assert party.email
        leid = f"{sum(len(v) for v in self._mailchimp.values()) + 1:06d}"
        t = "%Y-%m-%d %H:%M:%S"
        row = [
            party.email,
            "Case",
            party.party_id,
            optin.strftime(t) if optin else "",
            "203.0.113.7" if optin else "",
            confirm.strftime(t) if confirm else "",
            "203.0.113.7" if confirm else "",
            party.country,
            (changed or confirm or optin or self.delivery).strftime(t),
            leid,
        ]
        self._mailchimp.setdefault((kind, audience), []).append(row)
        return leid

    def sendgrid_bounce(self, party: Party, at: dt.datetime, status: str = "5.1.1") -> None:
        """A SendGrid bounce (5.x.x: undeliverable; 4.x.x: nothing)."""
        assert party.email
        self._sendgrid_bounces.append(
            {
                "created": int(at.replace(tzinfo=dt.UTC).timestamp()),
                "email": party.email,
                "reason": f"{status} bounce",
                "status": status,
            }
        )

    def sendgrid_group_unsubscribe(self, party: Party, group_id: int, name: str, at: dt.datetime) -> None:
        """A SendGrid (lakeside_energy) unsubscribe-group opt-out."""
        assert party.email
        self._sendgrid_groups.append(
            {
                "email": party.email,
                "group_id": group_id,
                "group_name": name,
                "created_at": int(at.replace(tzinfo=dt.UTC).timestamp()),
            }
        )

    def preference_centre(
        self,
        party: Party,
        subscription: str,
        *,
        subscribed: bool,
        doi_status: str | None,
        at: dt.datetime,
        confirm: dt.datetime | None = None,
    ) -> None:
        """A full SAP CDC account of the customer with one email subscription."""
        assert party.email
        doi: dict[str, object] | None = None
        if doi_status:
            doi = {"status": doi_status, "emailSentTime": iso(at)}
            if confirm:
                doi["confirmTime"] = iso(confirm)
        sub: dict[str, object] = {
            "isSubscribed": subscribed,
            "lastUpdatedSubscriptionState": iso(at),
            "tags": None,
        }
        if doi:
            sub["doubleOptIn"] = doi
        self._accounts.append(
            {
                "UID": f"uid-{party.party_id}-{len(self._accounts)}",
                "hasLiteAccount": False,
                "hasFullAccount": True,
                "profile": {
                    "email": party.email,
                    "firstName": "Case",
                    "lastName": party.party_id,
                    "country": party.country,
                },
                "data": {"customerId": party.party_id},
                "lastUpdated": iso(max(at, confirm or at)),
                "subscriptions": {subscription: {"email": sub}},
            }
        )

    def erasure(
        self,
        party: Party,
        at: dt.datetime,
        *,
        emails: bool = True,
        customer: bool = False,
    ) -> None:
        """A privacy-portal erasure request naming the party's email and/or its customer id."""
        self._erasures.append(
            {
                "request_id": f"DSR-{len(self._erasures) + 1:04d}",
                "received_at": iso(at),
                "regulation": "GDPR",
                "type": "erasure",
                "subject": {
                    "customer_id": party.party_id if customer else None,
                    "emails": [party.email] if emails and party.email else [],
                    "phones": [],
                },
            }
        )

    def twilio_inbound(self, party: Party, to: str, body: str, at: dt.datetime) -> None:
        """An inbound text from the party's phone to the sender number `to` (a keyword: STOP, START...)."""
        assert party.phone
        self._twilio.append(
            [
                party.phone,
                to,
                body,
                "received",
                at.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "2010-04-01",
                "1",
                "",
                "AC1",
                f"SM{len(self._twilio) + 1:06d}",
                "inbound",
                "",
                "",
            ]
        )

    def onetrust(
        self,
        party: Party,
        at: dt.datetime,
        purpose_id: str,
        transaction: str,
    ) -> None:
        """A OneTrust receipt (brand lakeside_motors) identified by the party's email, one purpose without
        per-topic preferences (so it decides email, sms, voice and mail)."""
        assert party.email
        purpose = {"Id": purpose_id, "Version": 1, "TransactionType": transaction}
        self._onetrust.append(
            {
                "receiptId": f"r-{len(self._onetrust) + 1:04d}",
                "identifier": party.email,
                "identifierType": "Email",
                "interactionDate": iso(at),
                "consentDate": iso(at),
                "collectionPointId": "cp-motors-web",
                "language": "en-GB",
                "geoLocation": {"country": party.country},
                "dsDataElements": {
                    "FirstName": "Case",
                    "LastName": party.party_id,
                    "Phone": "",
                    "CustomerId": party.party_id,
                },
                "purposes": [purpose],
            }
        )

    def pos_receipt(
        self, party: Party, store: str, at: dt.datetime, *, optin_email: bool = False, optin_sms: bool = False
    ) -> str:
        """A till receipt (a purchase of the store's brand; a ticked box is an express opt-in to offers).
        `at` is UTC; the stores below keep UTC as their wall clock in winter (Europe/London)."""
        assert store in STORES, store
        receipt_no = f"{len(self._receipts) + 1:06d}"
        self._receipts.append(
            [
                store,
                receipt_no,
                at.strftime("%d/%m/%Y %H:%M"),
                party.party_id,
                party.email or "",
                party.phone or "",
                "Y" if optin_email else "",
                "Y" if optin_sms else "",
                "19.90",
                "GBP",
            ]
        )
        return f"{store}:{receipt_no}"

    def registry(self, registry: str, delivered: dt.datetime, numbers: list[str]) -> None:
        """A full snapshot of a do-not-call registry delivered at `delivered`, listing E.164 `numbers`."""
        lines = self.registries.setdefault(delivered, {}).setdefault(registry, [])
        lines.extend(_registry_line(registry, n) for n in numbers)

    # --- landing ----------------------------------------------------------------------------------

    def write(self, landing: Path, *, registries: bool = True) -> Path:
        """Lay the world out below `landing` (without the registry snapshots if `registries` is false)."""
        d = self.delivery.strftime(DELIVERY_FORMAT)

        def put(source: str, name: str, content: str, delivery: str = d) -> None:
            path = landing / source / delivery / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8", newline="")

        put("customer_master", "customers_1.csv", _csv(CUSTOMER_HEADER, self._customers))
        if self._sf_individuals:
            put("salesforce_consent", "Individual_1.csv", _csv(SF_INDIVIDUAL_HEADER, self._sf_individuals))
            put(
                "salesforce_consent",
                "ContactPointTypeConsent_1.csv",
                _csv(SF_CONSENT_HEADER, self._sf_consents),
            )
        if self._transactions:
            put("transactions", "transactions_1.csv", _csv(TXN_HEADER, self._transactions))
        if self._leads:
            put("lead_lists", "leads_1.csv", _csv(LEAD_HEADER, self._leads))
        if self._captures:
            put("call_centre", "captures_1.jsonl", "".join(json.dumps(c) + "\n" for c in self._captures))
        if self._legacy:
            body = "".join(r + "\r\n" for r in self._legacy) + f"TRL{len(self._legacy):010d}\r\n"
            put("legacy", "LEGACY_FLAGS_1.DAT", body)
        for (kind, audience), members in self._mailchimp.items():
            put("mailchimp", f"{kind}_members_export_{audience}.csv", _mailchimp_csv(kind, members))
        if self._sendgrid_bounces:
            put("sendgrid", "bounces.json", json.dumps(self._sendgrid_bounces))
        if self._sendgrid_groups:
            put("sendgrid", "group_unsubscribes.json", json.dumps(self._sendgrid_groups))
        if self._accounts:
            put("preference_centre", "accounts_1.jsonl", "".join(json.dumps(a) + "\n" for a in self._accounts))
        if self._erasures:
            put("erasure_requests", "requests_1.jsonl", "".join(json.dumps(e) + "\n" for e in self._erasures))
        if self._twilio:
            put("twilio_sms", "messages_1.csv", _csv(TWILIO_HEADER, self._twilio))
        if self._receipts:
            put("pos", "stores.csv", _csv(STORE_HEADER, [list(v) for v in STORES.values()]))
            put("pos", "receipts_1.csv", _csv(RECEIPT_HEADER, self._receipts))
        if self._onetrust:
            put("onetrust", "receipts_1.json", json.dumps(self._onetrust, indent=1))
        if registries:
            for delivered, regs in self.registries.items():
                for registry, lines in regs.items():
                    put(
                        "dnc_registries",
                        f"{registry}/{registry}_{delivered:%Y%m%d}.txt",
                        "".join(line + "\n" for line in lines),
                        delivered.strftime(DELIVERY_FORMAT),
                    )
        return landing


CUSTOMER_HEADER = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at"
)
SF_INDIVIDUAL_HEADER = "Id,CustomerId__c,HasOptedOutSolicit,ShouldForget,LastModifiedDate"
SF_CONSENT_HEADER = (
    "Id,Name,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,PrivacyConsentStatus,"
    "CaptureDate,CaptureSource,CaptureContactPointType,DoubleConsentCaptureDate,EffectiveFrom,EffectiveTo,"
    "LastModifiedDate"
)
TXN_HEADER = "txn_id,customer_id,brand,txn_type,occurred_at,amount,currency"
LEAD_HEADER = (
    "lead_id,vendor,brand,email,phone,first_name,last_name,country,postal_code,consent_channels,"
    "consent_text_version,consent_captured_at,ip_address"
)
STORE_HEADER = "store_id,brand,country,timezone,date_format"
STORES = {
    "S-UK-MOT": ("S-UK-MOT", "lakeside_motors", "GB", "Europe/London", "DMY"),
    "S-UK-HOM": ("S-UK-HOM", "lakeside_home", "GB", "Europe/London", "DMY"),
}
RECEIPT_HEADER = (
    "store_id,receipt_no,txn_local_time,customer_id,email,mobile,marketing_optin_email,marketing_optin_sms,"
    "amount,currency"
)
TWILIO_HEADER = "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit"
MAILCHIMP_TAIL = {
    "subscribed": ["LAST_CHANGED"],
    "unsubscribed": [
        "UNSUB_TIME",
        "UNSUB_CAMPAIGN_TITLE",
        "UNSUB_CAMPAIGN_ID",
        "UNSUB_REASON",
        "UNSUB_REASON_OTHER",
    ],
    "cleaned": ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"],
}


def _csv(header: str, rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue()


def _mailchimp_csv(kind: str, members: list[list[str]]) -> str:
    tail = MAILCHIMP_TAIL[kind]
    header = [
        "Email Address",
        "First Name",
        "Last Name",
        "OPTIN_TIME",
        "OPTIN_IP",
        "CONFIRM_TIME",
        "CONFIRM_IP",
        "CC",
        *tail,
        "LEID",
    ]
    rows = [[*m[:8], m[8], *([""] * (len(tail) - 1)), m[9]] for m in members]
    return _csv(",".join(header), rows)


def _registry_line(registry: str, e164: str) -> str:
    """A number in the registry's own layout (feeds.md §11)."""
    if registry in ("us_ftc", "ca_dncl"):
        assert e164.startswith("+1")
        return f"{e164[2:5]},{e164[5:]}"
    if registry == "uk_tps":
        assert e164.startswith("+44")
        national = "0" + e164[3:]
        return f"{national[:5]:<5}{national[5:]:>7}"
    if registry == "au_dncr":
        assert e164.startswith("+61")
        return "0" + e164[3:]
    raise ValueError(registry)
