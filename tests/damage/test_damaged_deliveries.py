"""Every kind of damage, in every CSV and JSON feed, through the real CLI into a real warehouse.

One landing tree holds, per feed and kind of damage, one delivery of three records in the feed's own
format: A (good), B (the damaged one) and C (an opt-out where the feed has them, else a fact). One run of
`consent-pipeline run` reads them all. Per file: the ledger balances and counts exactly three records (no
phantom records), B is quarantined with the damage's reason (or read, for damage that must cost nothing),
A and C are read, and C's opt-out is in the event log.
"""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, rows

CLI = str(Path(sys.executable).with_name("consent-pipeline"))
AS_OF = "2026-03-01T06:00:00Z"
DELIVERY = "2026-02-20T020000Z"
WHEN = "2026-02-12T10:00:00Z"


@dataclass(frozen=True)
class Feed:
    source: str
    name: str  # the damaged file's name
    kind: str  # csv | jsonl | json
    header: str  # CSV header
    record: Callable[[str, str], str]  # (role A/B/C, tag) -> one record's text
    applied: str  # SQL: 1 row when C (tag ?) reached the warehouse; ? is the tag
    extra: Callable[[str], dict[str, str]] = lambda tag: {}  # other files of the delivery, name -> text


def _email(role: str, tag: str) -> str:
    return f"{role.lower()}.{tag}@example.com"


def _num(role: str, tag: str) -> str:
    n = sum(ord(c) for c in tag) * 7 % 10000
    return f"+1415555{n:04d}"[:-1] + "ABC".index(role).__str__()


# Records of one file differ in what they decide, so none is a duplicate of another.
PURPOSE_NAME = {"A": "Promotional Offers", "B": "Newsletter", "C": "Third Party Marketing"}
QUESTION = {"A": "email_offers", "B": "email_newsletter", "C": "third_party"}

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at"
)
FEEDS = [
    Feed(
        "customer_master",
        "customers_1.csv",
        "csv",
        CUSTOMERS,
        lambda r, t: (
            f"C-{r}-{t},,true,Jörg,Öster,{_email(r, t)},,,1 Bay St,San Francisco,CA,94107,US,customer,"
            f"lakeside_energy,2021-03-04T10:00:00Z,{WHEN}"
        ),
        "SELECT 1 FROM customer_records WHERE customer_id = 'C-C-' || ? AND last_name = 'Öster'",
    ),
    Feed(
        "salesforce_consent",
        "ContactPointTypeConsent_1.csv",
        "csv",
        "Id,Name,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,PrivacyConsentStatus,"
        "CaptureDate,CaptureSource,CaptureContactPointType,DoubleConsentCaptureDate,EffectiveFrom,EffectiveTo,"
        "LastModifiedDate",
        lambda r, t: (
            f"0ZY-{r}-{t},Email Offers,0PK-{t},Email,Email,{PURPOSE_NAME[r]},Lakeside Home,"
            f"{'OptOut' if r == 'C' else 'OptIn'},2026-02-12T10:00:00.000+0000,Web Form,Email,,,,"
            "2026-02-12T10:00:00.000+0000"
        ),
        "SELECT 1 FROM consent_events WHERE source_record_id = '0ZY-C-' || ? AND status = 'opt_out'",
        lambda t: {
            "Individual_1.csv": "Id,CustomerId__c,HasOptedOutSolicit,ShouldForget,LastModifiedDate\n"
            f"0PK-{t},C-{t},false,false,2026-02-10T10:00:00.000+0000\n"
        },
    ),
    Feed(
        "mailchimp",
        "unsubscribed_members_export_a1h0menews.csv",
        "csv",
        '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,'
        "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,"
        "UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES",
        lambda r, t: (
            f'{_email(r, t)},Jörg,"Öster, Jr",2,2026-01-15 08:00:00,,,,,,,,,GB,,2026-02-12 10:00:00,'
            f"Feb news,c1,,,{r}{t},,"
        ),
        "SELECT 1 FROM consent_events WHERE contact_point = 'c.' || ? || '@example.com' AND status = 'opt_out'",
    ),
    Feed(
        "twilio_sms",
        "messages_1.csv",
        "csv",
        "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit",
        lambda r, t: (
            f"{_num(r, t)},+18885550100,{'STOP' if r == 'C' else 'START'},received,"
            f'"Thu, 12 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM-{r}-{t},inbound,,USD'
        ),
        "SELECT 1 FROM consent_events WHERE source_record_id = 'SM-C-' || ? AND status = 'opt_out'",
    ),
    Feed(
        "pos",
        "receipts_1.csv",
        "csv",
        "store_id,receipt_no,txn_local_time,customer_id,email,mobile,marketing_optin_email,marketing_optin_sms,"
        "amount,currency",
        lambda r, t: f"S-UK-1,{r}-{t},12/02/2026 10:00,,{_email(r, t)},,Y,,19.99,GBP",
        "SELECT 1 FROM consent_events WHERE contact_point = 'c.' || ? || '@example.com' AND status = 'opt_in'",
        lambda t: {
            "stores.csv": "store_id,brand,country,timezone,date_format\nS-UK-1,lakeside_home,GB,Europe/London,DMY\n"
        },
    ),
    Feed(
        "lead_lists",
        "leads_1.csv",
        "csv",
        "lead_id,vendor,brand,email,phone,first_name,last_name,country,postal_code,consent_channels,"
        "consent_text_version,consent_captured_at,ip_address",
        lambda r, t: (
            f"L-{r}-{t},LeadSpring,lakeside_motors,{_email(r, t)},,Jörg,Öster,GB,,email,v2,{WHEN},198.51.100.1"
        ),
        "SELECT 1 FROM consent_events WHERE source_record_id = 'L-C-' || ?",
    ),
    Feed(
        "transactions",
        "transactions_1.csv",
        "csv",
        "txn_id,customer_id,brand,txn_type,occurred_at,amount,currency",
        lambda r, t: f"T-{r}-{t},C-{t},lakeside_energy,purchase,{WHEN},12.50,USD",
        "SELECT 1 FROM activity WHERE activity_id = 'T-C-' || ?",
    ),
    Feed(
        "sends",
        "sends_1.csv",
        "csv",
        "send_id,channel,brand,campaign_id,purpose,contact_point,sent_at",
        lambda r, t: f"SND-{r}-{t},email,lakeside_home,feb,marketing.newsletter,{_email(r, t)},{WHEN}",
        "SELECT 1 FROM sends WHERE send_id = 'SND-C-' || ?",
    ),
    Feed(
        "sendgrid",
        "global_unsubscribes.json",
        "json",
        "",
        lambda r, t: json.dumps({"created": 1770890400, "email": _email(r, t)}),
        "SELECT 1 FROM consent_events WHERE contact_point = 'c.' || ? || '@example.com' AND status = 'opt_out'",
    ),
    Feed(
        "preference_centre",
        "accounts_1.jsonl",
        "jsonl",
        "",
        lambda r, t: json.dumps(
            {
                "UID": f"U-{r}-{t}",
                "hasLiteAccount": True,
                "profile": {"email": _email(r, t), "firstName": "Jörg", "country": "GB"},
                "data": {},
                "lastUpdated": "2026-02-12T10:00:00.000Z",
                "subscriptions": {
                    "lakeside_home.newsletter": {
                        "email": {"isSubscribed": False, "lastUpdatedSubscriptionState": "2026-02-12T10:00:00.000Z"}
                    }
                },
                "preferences": {},
            },
            ensure_ascii=False,
        ),
        "SELECT 1 FROM consent_events WHERE contact_point = 'c.' || ? || '@example.com' AND status = 'opt_out'",
    ),
    Feed(
        "call_centre",
        "captures_1.jsonl",
        "jsonl",
        "",
        lambda r, t: json.dumps(
            {
                "capture_id": f"CC-{r}-{t}",
                "captured_at": "2026-02-12T10:00:00+00:00",
                "agent_id": "A042",
                "brand": "lakeside_energy",
                "customer_id": f"C-{t}",
                "verified_identity": True,
                "script": "consent_update_v3",
                "answers": [{"question": QUESTION[r], "answer": "no"}],
            }
        ),
        "SELECT 1 FROM consent_events WHERE source_record_id = 'CC-C-' || ? AND status = 'opt_out'",
    ),
    Feed(
        "onetrust",
        "receipts_1.json",
        "json",
        "",
        lambda r, t: json.dumps(
            {
                "receiptId": f"R-{r}-{t}",
                "identifier": _email(r, t),
                "identifierType": "Email",
                "interactionDate": WHEN,
                "consentDate": WHEN,
                "dsDataElements": {"FirstName": "Jörg", "CustomerId": ""},
                "purposes": [{"Id": "6f1f5c8e-0000-4000-8000-00000000a001", "TransactionType": "WITHDRAWN"}],
            },
            ensure_ascii=False,
        ),
        "SELECT 1 FROM consent_events WHERE source_record_id = 'R-C-' || ? AND status = 'opt_out'",
    ),
    Feed(
        "erasure_requests",
        "requests_1.jsonl",
        "jsonl",
        "",
        lambda r, t: json.dumps(
            {
                "request_id": f"DSR-{r}-{t}",
                "received_at": WHEN,
                "regulation": "GDPR",
                "type": "erasure",
                "subject": {"emails": [_email(r, t)], "phones": []},
            }
        ),
        "SELECT 1 FROM erasure_requests WHERE request_id = 'DSR-C-' || ?",
    ),
]


@dataclass(frozen=True)
class Damage:
    name: str
    formats: tuple[str, ...]
    build: Callable[[Feed, str], bytes]
    reason: str | None  # B's quarantine reason; None: B is read like the others


def _lines(feed: Feed, tag: str, order: str = "ABC", b: Callable[[str], str] = lambda s: s) -> list[str]:
    return [b(feed.record(r, tag)) if r == "B" else feed.record(r, tag) for r in order]


def _csv(feed: Feed, records: list[str], nl: str = "\n", end: bool = True) -> str:
    return feed.header + nl + nl.join(records) + (nl if end else "")


def _json(feed: Feed, records: list[str], end: bool = True) -> str:
    if feed.kind == "json":
        return "[" + ",".join(records) + ("]" if end else "")
    return "\n".join(records) + ("\n" if end else "")


def _cut(feed: Feed, tag: str) -> int:
    """Where a transfer cut the CSV file off: inside B's fourth field (B last, no line end)."""
    text = _csv(feed, _lines(feed, tag, "ACB"), end=False)
    b = feed.record("B", tag)
    at = text.rindex(b)
    return at + len(",".join(b.split(",")[:3])) + 2


def _deep(s: str) -> str:
    return s[:-1] + ', "deep": ' + "[" * 300 + "]" * 300 + "}"


DAMAGES = [
    # --- CSV ---
    Damage(
        "stray_quote",
        ("csv",),
        lambda f, t: _csv(f, _lines(f, t, b=lambda s: s.replace(",", ',"ab', 1))).encode(),
        "malformed_row",
    ),
    Damage(
        "extra_field_first_row",
        ("csv",),
        lambda f, t: _csv(f, _lines(f, t, "BAC", lambda s: s + ",x")).encode(),
        "malformed_row",
    ),
    Damage(
        "missing_fields",
        ("csv",),
        lambda f, t: _csv(f, _lines(f, t, b=lambda s: s.rsplit(",", 3)[0])).encode(),
        "malformed_row",
    ),
    Damage("bare_cr", ("csv",), lambda f, t: _csv(f, _lines(f, t), "\r").encode(), None),
    Damage("crlf_bom", ("csv",), lambda f, t: codecs.BOM_UTF8 + _csv(f, _lines(f, t), "\r\n").encode(), None),
    Damage("utf16", ("csv",), lambda f, t: _csv(f, _lines(f, t), "\r\n").encode("utf-16"), None),
    Damage("blank_lines", ("csv",), lambda f, t: _csv(f, _lines(f, t), "\n\n").encode(), None),
    Damage(
        "control_bytes",
        ("csv",),
        lambda f, t: _csv(f, _lines(f, t, b=lambda s: s.replace(",", ",\x01\x02", 1))).encode(),
        "malformed_row",
    ),
    Damage(
        "cp1252_row",
        ("csv",),
        lambda f, t: (
            _csv(f, _lines(f, t, b=lambda s: s.replace("ö", "\x00ö").replace("Ö", "\x00Ö")))
            .encode()
            .replace(b"\x00\xc3\xb6", b"\xf6")
            .replace(b"\x00\xc3\x96", b"\xd6")
        ),
        None,
    ),
    Damage(
        "truncated", ("csv",), lambda f, t: _csv(f, _lines(f, t, "ACB"), end=False)[: _cut(f, t)].encode(), "truncated"
    ),
    # --- JSON ---
    Damage(
        "bad_element",
        ("json", "jsonl"),
        lambda f, t: _json(f, _lines(f, t, b=lambda s: '{"oops": }')).encode(),
        "invalid_json",
    ),
    Damage(
        "lost_brace",
        ("json", "jsonl"),
        lambda f, t: _json(f, _lines(f, t, b=lambda s: s[:-1])).encode(),
        "invalid_json",
    ),
    Damage("too_deep", ("json", "jsonl"), lambda f, t: _json(f, _lines(f, t, b=_deep)).encode(), "too_deep"),
    Damage(
        "truncated",
        ("json", "jsonl"),
        lambda f, t: _json(f, _lines(f, t, "ACB"), end=False)[:-15].encode(),
        "truncated",
    ),
    Damage(
        "pages",
        ("json", "jsonl"),
        lambda f, t: "\n".join(["[" + ",".join(_lines(f, t, "AB")) + "]", "[" + f.record("C", t) + "]"]).encode(),
        None,
    ),
    Damage("utf16", ("json", "jsonl"), lambda f, t: _json(f, _lines(f, t)).encode("utf-16"), None),
    Damage(
        "bad_bytes",
        ("json", "jsonl"),
        lambda f, t: _json(f, _lines(f, t, b=lambda s: s.replace('": "', '": "\udcff', 1))).encode(
            "utf-8", "surrogateescape"
        ),
        "any",  # B's fate depends on the field hit; A and C are read with their ö intact
    ),
]

CASES = [(f, d) for f in FEEDS for d in DAMAGES if f.kind in d.formats]


def _tag(feed: Feed, damage: Damage) -> str:
    return f"{feed.source.replace('_', '')}{damage.name.replace('_', '')}".lower()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damage")
    landing = root / "landing"
    for i, (feed, damage) in enumerate(CASES):
        tag = _tag(feed, damage)
        # one delivery per case: deliveries a minute apart, all before the as-of
        folder = landing / feed.source / f"2026-02-20T02{i // 60:02d}{i % 60:02d}Z"
        folder.mkdir(parents=True)
        (folder / feed.name).write_bytes(damage.build(feed, tag))
        for name, text in feed.extra(tag).items():
            (folder / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [
            CLI,
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(root / "w.duckdb"),
            "--extracts",
            str(root / "x"),
            "--rules",
            str(ROOT / "rules"),
            "--as-of",
            AS_OF,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "w.duckdb"


@pytest.mark.parametrize(("feed", "damage"), CASES, ids=[f"{f.source}-{d.name}" for f, d in CASES])
def test_damage_costs_only_the_damaged_record(warehouse: Path, feed: Feed, damage: Damage) -> None:
    tag = _tag(feed, damage)
    files = rows(
        warehouse,
        "SELECT source_file FROM ingest_ledger WHERE source = ? AND source_file LIKE '%/' || ?",
        [feed.source, feed.name],
    )
    mine = [str(f) for (f,) in files if _delivery_of(str(f)) == _delivery_for(feed, damage)]
    assert len(mine) == 1, f"one ledger row for the damaged file, got {mine}"
    ledger = rows(
        warehouse,
        "SELECT rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined, file_status"
        " FROM ingest_ledger WHERE source_file = ?",
        [mine[0]],
    )[0]
    (read, accepted, skipped, duplicate, quarantined), status = _counts(ledger[:5]), ledger[5]
    assert status == "read"
    assert read == 3, "three records, no phantom ones"
    assert read == accepted + skipped + duplicate + quarantined
    problems = rows(
        warehouse,
        "SELECT source_record, reason FROM quarantine WHERE source_file = ? AND reason <> 'undecodable_characters'"
        " ORDER BY 1",
        [mine[0]],
    )
    reasons = {r for _, r in problems}
    if damage.reason is None:
        assert quarantined == 0 and accepted + skipped == 3, problems
    elif damage.reason != "any":
        # B alone is quarantined, for the damage (parts of A and C a feed rejects as usual do not count)
        assert damage.reason in reasons, problems
        assert quarantined == 1 and accepted + skipped == 2, problems
    assert rows(warehouse, feed.applied, [tag]) != [], "the record beside the damage (C) did not take effect"


def _counts(values: tuple[object, ...]) -> tuple[int, ...]:
    """Row counts as read from the warehouse (rows() gives them as objects)."""
    assert all(isinstance(v, int) for v in values), values
    return tuple(v for v in values if isinstance(v, int))


def _delivery_of(source_file: str) -> str:
    return source_file.split("/")[1]


def _delivery_for(feed: Feed, damage: Damage) -> str:
    i = CASES.index((feed, damage))
    return f"2026-02-20T02{i // 60:02d}{i % 60:02d}Z"
