"""SendGrid and Twilio exports in the shapes real ones take, through a real pipeline run (Dagster, DuckDB):
what reaches consent_events, consent_current, contact_permission, undeliverable, the quarantine and the
ingest ledger (feeds.md §4, §5, "Real files are messy"; company.md; semantics §5)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.helpers import rows, run, write
from tests.permissions.world import Party, World

AS_OF = "2026-03-01T06:00:00Z"
ENERGY = "lakeside_energy"
OFFERS = "+18885550100"  # sends marketing.offers and marketing.newsletter for lakeside_energy
D1, D2, D3 = "2026-02-26T020000Z", "2026-02-27T020000Z", "2026-02-28T020000Z"
ARRIVED = {D: dt.datetime.strptime(D, "%Y-%m-%dT%H%M%SZ") for D in (D1, D2, D3)}
TWILIO_HEADER = "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit"


def sms(frm: str, body: str, when: str, sid: str, to: str = OFFERS, opt_out_type: str | None = None) -> str:
    line = f'{frm},{to},"{body}",received,"{when}",2010-04-01,1,,AC1,{sid},inbound,,USD'
    return line + ("" if opt_out_type is None else f",{opt_out_type}") + "\n"


def phone(party: Party) -> str:
    assert party.phone, party
    return party.phone


def epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sg_tw")
    world = World()
    ca1 = world.customer("C1", "CA", ENERGY)  # ARRÊT after START
    ca2 = world.customer("C2", "CA", ENERGY)  # START only
    us3 = world.customer("C3", "US", ENERGY)  # OptOutType=STOP on a French body
    us4 = world.customer("C4", "US", ENERGY)  # STOP without a SentDate
    us5 = world.customer("C5", "US", ENERGY)  # START without a SentDate
    us6 = world.customer("C6", "US", ENERGY)  # + lost from From and To
    us7 = world.customer("C7", "US", ENERGY)  # digits lost to scientific notation
    for registry in ("us_ftc", "ca_dncl"):
        world.registry(registry, dt.datetime(2026, 2, 25, 2), ["+12125559999"])
    landing = world.write(base / "landing")

    start = "Tue, 10 Feb 2026 11:00:00 +0000"
    write(
        landing,
        "twilio_sms",
        D1,
        "messages_20260225.csv",
        TWILIO_HEADER
        + "\n"
        + "".join(sms(phone(p), "START", start, f"SMs{p.party_id}") for p in (ca1, ca2, us3, us4))
        + sms(phone(ca1), "ARRÊT", "Fri, 20 Feb 2026 09:00:00 +0000", "SMarret")
        + sms(phone(us5), "START", "", "SMstart_no_date")
        + sms(phone(us6).lstrip("+"), "START", start, "SMs6", to=OFFERS.lstrip("+"))
        + sms(
            phone(us6).lstrip("+"),
            "Stop.",
            "Fri, 20 Feb 2026 10:00:00 +0000",
            "SMstop6",
            to=OFFERS.lstrip("+"),
        )
        + sms(f"{int(phone(us7)) / 1e10:.5f}E+10", "STOP", start, "SMsci"),  # digits lost
    )
    # An account with Advanced Opt-Out: its export carries OptOutType, which decides whatever the body says.
    write(
        landing,
        "twilio_sms",
        D1,
        "messages_aoo_20260225.csv",
        TWILIO_HEADER
        + ",OptOutType\n"
        + sms(phone(us3), "Arrêtez svp", "Sat, 21 Feb 2026 08:00:00 +0000", "SMaoo", opt_out_type="STOP"),
    )
    write(
        landing,
        "twilio_sms",
        D2,
        "messages_20260226.csv",
        TWILIO_HEADER + "\n" + sms(phone(us4), "STOP", "", "SMnodate"),
    )

    # SendGrid: one group's endpoint (bare addresses) in two deliveries; a paged global dump; invalid
    # addresses; blocks; webhook POST bodies one a line.
    assert ca1.email
    members = json.dumps([ca1.email.upper()])
    write(landing, "sendgrid", D1, "group_101_unsubscribes.json", members)
    write(landing, "sendgrid", D3, "group_101_unsubscribes.json", members)
    write(
        landing,
        "sendgrid",
        D3,
        "global_unsubscribes.json",
        json.dumps([{"created": epoch("2026-02-15T08:00:00"), "email": us4.email}])
        + json.dumps([{"created": epoch("2026-02-16T08:00:00"), "email": us5.email}]),
    )
    write(
        landing,
        "sendgrid",
        D3,
        "invalid_emails.json",
        json.dumps({"result": [{"created": epoch("2026-02-14T00:00:00"), "email": ca2.email, "reason": "bad"}]}),
    )
    write(
        landing,
        "sendgrid",
        D3,
        "blocks.json",
        json.dumps(
            [
                {
                    "created": epoch("2026-02-14T00:00:00"),
                    "email": us3.email,
                    "reason": "550 5.7.1 policy",
                    "status": "5.7.1",
                }
            ]
        ),
    )
    processed = {
        "email": us6.email,
        "timestamp": epoch("2026-02-17T08:00:00"),
        "event": "processed",
        "sg_event_id": "p6",
    }
    unsubscribe = {**processed, "event": "unsubscribe", "sg_event_id": "u6"}
    write(landing, "sendgrid", D3, "events_20260227.json", json.dumps([processed, unsubscribe]) + "\n")
    path = base / "w.duckdb"
    run(landing, path, AS_OF)
    return path


def current(warehouse: Path, cp: str, channel: str, purpose: str) -> tuple[object, ...] | None:
    found = rows(
        warehouse,
        "SELECT status, basis, event_ts, source FROM consent_current"
        " WHERE contact_point = ? AND channel = ? AND purpose = ? AND brand = ?",
        [cp, channel, purpose, ENERGY],
    )
    assert len(found) <= 1
    return found[0] if found else None


def permission(warehouse: Path, party: str, channel: str, purpose: str) -> tuple[bool, str]:
    found = rows(
        warehouse,
        "SELECT allowed, reason FROM contact_permission"
        " WHERE party_id = ? AND channel = ? AND purpose = ? AND brand = ?",
        [party, channel, purpose, ENERGY],
    )
    assert len(found) == 1, found
    allowed, reason = found[0]
    assert isinstance(allowed, bool) and isinstance(reason, str), found
    return allowed, reason


def test_french_stop_from_a_canadian_number_removes_sms_permission(warehouse: Path) -> None:
    for purpose in ("marketing.offers", "marketing.newsletter"):
        assert current(warehouse, "+14165550001", "sms", purpose) == (
            "opt_out",
            "express",
            dt.datetime(2026, 2, 20, 9),
            "twilio_sms",
        )
        assert permission(warehouse, "C1", "sms", purpose) == (False, "opted_out")
        # the same START without the ARRÊT permits: it is the French keyword that took it away
        assert permission(warehouse, "C2", "sms", purpose) == (True, "express_consent")


def test_opt_out_type_stop_opts_out_whatever_the_body(warehouse: Path) -> None:
    assert current(warehouse, "+12125550001", "sms", "marketing.offers") == (
        "opt_out",
        "express",
        dt.datetime(2026, 2, 21, 8),
        "twilio_sms",
    )
    assert permission(warehouse, "C3", "sms", "marketing.offers") == (False, "opted_out")


def test_a_stop_without_a_date_is_estimated_a_start_without_one_quarantined(warehouse: Path) -> None:
    assert current(warehouse, "+12125550002", "sms", "marketing.offers") == (
        "opt_out",
        "express",
        ARRIVED[D2],
        "twilio_sms",
    )
    estimated = rows(
        warehouse,
        "SELECT source_record_id, event_ts_estimated FROM consent_events WHERE contact_point = '+12125550002'"
        " AND channel = 'sms' ORDER BY event_ts, purpose",
    )
    assert estimated == [("SMsC4", False), ("SMsC4", False), ("SMnodate", True), ("SMnodate", True)]
    assert permission(warehouse, "C4", "sms", "marketing.offers") == (False, "opted_out")
    assert current(warehouse, "+12125550003", "sms", "marketing.offers") is None
    assert permission(warehouse, "C5", "sms", "marketing.offers") == (False, "no_consent")
    assert rows(
        warehouse,
        "SELECT reason, detail FROM quarantine WHERE source = 'twilio_sms' AND raw LIKE '%SMstart_no_date%'",
    ) == [("bad_timestamp", "SentDate is empty")]


def test_phones_a_spreadsheet_touched(warehouse: Path) -> None:
    assert current(warehouse, "+12125550004", "sms", "marketing.offers") == (
        "opt_out",
        "express",
        dt.datetime(2026, 2, 20, 10),
        "twilio_sms",
    )
    assert permission(warehouse, "C6", "sms", "marketing.offers") == (False, "opted_out")
    assert rows(warehouse, "SELECT reason FROM quarantine WHERE source = 'twilio_sms' AND raw LIKE '%SMsci%'") == [
        ("damaged_phone",)
    ]
    assert permission(warehouse, "C7", "sms", "marketing.offers") == (False, "no_consent")


def test_one_groups_bare_addresses_opt_out_at_their_first_delivery(warehouse: Path) -> None:
    assert current(warehouse, "c1@example.com", "email", "marketing.offers") == (
        "opt_out",
        "express",
        ARRIVED[D1],
        "sendgrid",
    )
    events = rows(
        warehouse,
        "SELECT delivery, event_ts, event_ts_estimated FROM consent_events WHERE source = 'sendgrid'"
        " AND contact_point = 'c1@example.com'",
    )
    assert events == [(D1, ARRIVED[D1], True)]  # the second delivery of the same list is a duplicate
    assert permission(warehouse, "C1", "email", "marketing.offers") == (False, "opted_out")
    assert permission(warehouse, "C1", "email", "marketing.newsletter")[1] != "opted_out"


def test_paged_dump_invalid_addresses_blocks_and_post_bodies(warehouse: Path) -> None:
    for cp, party in (("c4@example.com", "C4"), ("c5@example.com", "C5"), ("c6@example.com", "C6")):
        state = current(warehouse, cp, "email", "marketing.offers")
        assert state is not None and state[0] == "opt_out", cp
        assert permission(warehouse, party, "email", "marketing.newsletter") == (False, "opted_out")
    assert rows(warehouse, "SELECT contact_point, reason FROM undeliverable") == [("c2@example.com", "invalid")]
    assert permission(warehouse, "C2", "email", "marketing.offers") == (False, "undeliverable")
    assert permission(warehouse, "C3", "email", "marketing.offers")[1] != "undeliverable"  # a block is not


def test_every_record_is_accounted_for(warehouse: Path) -> None:
    found = rows(
        warehouse,
        "SELECT source_file, rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined"
        " FROM ingest_ledger WHERE source IN ('sendgrid', 'twilio_sms') ORDER BY source_file",
    )
    ledger: dict[str, tuple[int, ...]] = {}
    for source_file, *counts in found:
        assert isinstance(source_file, str) and all(isinstance(n, int) for n in counts), found
        ledger[source_file.split("/", 1)[1]] = tuple(n for n in counts if isinstance(n, int))
    assert all(n[0] == sum(n[1:]) for n in ledger.values()), ledger
    assert ledger == {
        f"{D1}/group_101_unsubscribes.json": (1, 1, 0, 0, 0),
        f"{D3}/blocks.json": (1, 0, 1, 0, 0),
        f"{D3}/events_20260227.json": (2, 1, 1, 0, 0),
        f"{D3}/global_unsubscribes.json": (2, 2, 0, 0, 0),
        f"{D3}/group_101_unsubscribes.json": (1, 0, 0, 1, 0),
        f"{D3}/invalid_emails.json": (1, 1, 0, 0, 0),
        f"{D1}/messages_20260225.csv": (9, 7, 0, 0, 2),
        f"{D1}/messages_aoo_20260225.csv": (1, 1, 0, 0, 0),
        f"{D2}/messages_20260226.csv": (1, 1, 0, 0, 0),
    }
