"""Contact points and identity through the whole pipeline (real files, real DuckDB): one contact point per
IDN mailbox, phones with letters quarantined, a country-less party's region from its phone, and ownership
rule 3 only within one household (semantics §2-§3, company.md Regions)."""

from __future__ import annotations

import csv
from pathlib import Path

from consent_pipeline.lib.contact_points import prospect_id, sha256_hex
from tests.helpers import rows, run, table_hash, write

AS_OF = "2026-03-01T06:00:00Z"
CM = "customer_master"
HEADER = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
)
TWILIO_HEADER = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
)
GB_SENDER = "+447700900500"  # lakeside_motors (rules/mappings/twilio_sms.yaml)
LEAD_HEADER = (
    "lead_id,vendor,brand,email,phone,first_name,last_name,country,postal_code,consent_channels,"
    "consent_text_version,consent_captured_at,ip_address\n"
)


def customer(
    cid: str,
    household: str = "",
    primary: str = "true",
    email: str = "",
    mobile: str = "",
    home: str = "",
    address: str = "",
    country: str = "GB",
    updated: str = "2025-12-30T08:00:00Z",
) -> str:
    line1, city, postcode = address.split("|") if address else ("", "", "")
    return (
        f"{cid},{household},{primary},First,{cid},{email},{mobile},{home},{line1},{city},,{postcode},{country},"
        f"customer,lakeside_home,2021-03-04T10:00:00Z,{updated}\n"
    )


def sms(frm: str, sid: str, body: str = "STOP", to: str = GB_SENDER) -> str:
    return f'{frm},{to},{body},received,"Sun, 15 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,{sid},inbound,,GBP\n'


def owners(warehouse: Path) -> dict[str, tuple[object, ...]]:
    found = rows(warehouse, "SELECT contact_point, party_id, household_id, rule FROM contact_point_owner")
    return {str(r[0]): r[1:] for r in found}


def test_both_spellings_of_an_idn_mailbox_are_one_contact_point(tmp_path: Path) -> None:
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "w.duckdb", tmp_path / "x"
    write(landing, CM, "2026-01-05T020000Z", "customers_1.csv", HEADER + customer("C1", email="Anna@B\u00fccher.de"))
    # SendGrid writes the ASCII form; the lead vendor the Unicode one (an email-only lead, no country)
    unsubscribes = (
        '[{"created": 1771142400, "email": "anna@xn--bcher-kva.de"},'
        ' {"created": 1771142400, "email": "Shop@XN--BCHER-KVA.DE"}]'
    )
    write(landing, "sendgrid", "2026-02-16T020000Z", "global_unsubscribes.json", unsubscribes)
    lead = "L-1,LeadSpring,lakeside_energy,shop@b\u00fccher.de,,Sam,,,,email,v2.1,2026-02-10T12:00:00Z,198.51.100.23\n"
    write(landing, "lead_lists", "2026-02-11T020000Z", "leads_1.csv", LEAD_HEADER + lead)
    run(landing, warehouse, AS_OF, extracts)

    anna, shop = "anna@b\u00fccher.de", "shop@b\u00fccher.de"
    assert rows(warehouse, "SELECT count(*) FROM consent_events WHERE contact_point LIKE '%xn--%'") == [(0,)]
    assert owners(warehouse) == {anna: ("C1", None, "personal"), shop: (prospect_id(shop), None, "prospect")}
    # the unsubscribe written with the ASCII domain reaches the customer's address
    assert rows(
        warehouse,
        "SELECT DISTINCT status, source FROM consent_current WHERE contact_point = ? AND channel = 'email' "
        "AND purpose LIKE 'marketing.%'",
        [anna],
    ) == [("opt_out", "sendgrid")]
    # the lead's opt-in and the later unsubscribe are one key: the unsubscribe decides
    assert rows(
        warehouse,
        "SELECT status, source FROM consent_current WHERE contact_point = ? AND channel = 'email' "
        "AND brand = 'lakeside_energy' AND purpose = 'marketing.offers'",
        [shop],
    ) == [("opt_out", "sendgrid")]
    # an email-only subject with no country is OTHER
    assert rows(warehouse, "SELECT country, region FROM parties WHERE party_id = ?", [prospect_id(shop)]) == [
        (None, "OTHER")
    ]
    [folder] = [p for p in extracts.iterdir() if p.is_dir()]
    with (folder / "suppression_email.csv").open(encoding="utf-8") as f:
        suppressed = {(r["contact_point"], r["contact_point_sha256"]) for r in csv.DictReader(f)}
    assert suppressed == {(anna, sha256_hex(anna)), (shop, sha256_hex(shop))}


def test_phones_with_letters_are_quarantined_in_every_source(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing,
        CM,
        "2026-01-05T020000Z",
        "customers_1.csv",
        HEADER + customer("C1", email="c1@example.com", mobile="07700 900ABC", home="020 7946 0201 ext 12"),
    )
    write(
        landing,
        "twilio_sms",
        "2026-02-16T020000Z",
        "messages_1.csv",
        TWILIO_HEADER
        + sms("+44 7700 900ABC", "SM1")
        + sms("4.47700900124E+11", "SM2")  # every digit still there: read, + restored
        + sms("4.477E+11", "SM3"),  # digits lost
    )
    pos = (
        "store_id,receipt_no,txn_local_time,customer_id,email,mobile,marketing_optin_email,marketing_optin_sms,"
        "amount,currency\n"
        "S-UK-014,000918,03/02/2026 17:45,,walk.in@example.com,07700 900XYZ,,Y,5.00,GBP\n"
    )
    write(
        landing,
        "pos",
        "2026-02-05T020000Z",
        "stores.csv",
        "store_id,brand,country,timezone,date_format\nS-UK-014,lakeside_home,GB,Europe/London,DMY\n",
    )
    write(landing, "pos", "2026-02-05T020000Z", "receipts_1.csv", pos)
    run(landing, warehouse, AS_OF)

    assert sorted(rows(warehouse, "SELECT source, source_record, reason FROM quarantine")) == [
        ("customer_master", 1, "invalid_phone"),
        ("customer_master", 1, "invalid_phone"),
        ("pos", 1, "invalid_phone"),
        ("twilio_sms", 1, "invalid_phone"),
        ("twilio_sms", 3, "damaged_phone"),
    ]
    # what phonenumbers would have made of the letters is nowhere
    vanity = ["+447700900222", "+442079460201", "+447700900999", "+447700900123"]
    points = {r[0] for r in rows(warehouse, "SELECT contact_point FROM contact_point_owner")}
    assert points.isdisjoint(vanity)
    assert "+447700900124" in points
    ledger = rows(
        warehouse,
        "SELECT source, rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined FROM ingest_ledger "
        "WHERE source IN ('customer_master', 'twilio_sms') ORDER BY source",
    )
    assert ledger == [("customer_master", 1, 1, 0, 0, 0), ("twilio_sms", 3, 1, 0, 0, 2)]


def test_a_party_with_no_country_takes_its_region_from_its_phone(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing,
        CM,
        "2026-01-05T020000Z",
        "customers_1.csv",
        HEADER
        + customer("C1", email="c1@example.com", mobile="+44 7700 900301", country="")  # fictional UK range
        + customer("C2", email="c2@example.com", mobile="+1 613 555 0123", country="")  # Ottawa: CA, not US
        + customer("C3", email="c3@example.com", home="+49 30 12345678", country="")  # EU, country DE
        + customer("C4", email="c4@example.com", country="")  # email only
        + customer("C5", email="c5@example.com", mobile="+1 613 555 0124", country="GB"),  # a country decides
    )
    write(landing, "twilio_sms", "2026-02-16T020000Z", "messages_1.csv", TWILIO_HEADER + sms("+447700900123", "SM1"))
    run(landing, warehouse, AS_OF)

    regions = dict((r[0], (r[1], r[2])) for r in rows(warehouse, "SELECT party_id, country, region FROM parties"))
    assert regions == {
        "C1": ("GB", "GB"),
        "C2": ("CA", "CA"),
        "C3": ("DE", "EU"),
        "C4": (None, "OTHER"),
        "C5": ("GB", "GB"),
        prospect_id("+447700900123"): ("GB", "GB"),  # the prospect: was OTHER
    }


def test_rule_3_decides_only_within_one_household(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    early, late = "2025-11-01T08:00:00Z", "2025-12-30T08:00:00Z"
    oak, elm = "1 Oak Road|Leeds|LS1 1AA", "2 Elm Road|Leeds|LS2 2BB"
    write(
        landing,
        CM,
        "2026-01-05T020000Z",
        "customers_1.csv",
        HEADER
        # two households' primary holders share an email: the most recent association wins
        + customer("C10", "H10", email="shared@example.com", home="020 7946 0310", address=elm, updated=late)
        + customer("C05", "H05", email="shared@example.com", address=elm, updated=early)
        # a primary holder and a more recent member of another household: not the primary holder
        + customer("C60", "H60", email="mixed@example.com", updated=early)
        + customer("C61", "H61", "false", email="mixed@example.com", updated=late)
        # the same, associated at the same time: the smallest party id
        + customer("C21", "H21", email="tie@example.com")
        + customer("C20", "H20", email="tie@example.com")
        # no household at all: each is a household of its own
        + customer("C31", email="nohh@example.com")
        + customer("C30", email="nohh@example.com", updated=early)
        # one household: its primary holder, however recent the other member
        + customer("C40", "H40", email="fam@example.com", address=oak, updated=early)
        + customer("C41", "H40", "false", email="fam@example.com", home="020 7946 0310", address=oak, updated=late)
        # different households, one holds it personally: rule 2 before anything else
        + customer("C50", "H50", email="c50@example.com", mobile="07700 900350", updated=early)
        + customer("C51", "H51", email="c51@example.com", home="07700 900350", updated=late),
    )
    run(landing, warehouse, AS_OF)

    got = owners(warehouse)
    assert got["shared@example.com"] == ("C10", "H10", "most_recent")
    assert got["mixed@example.com"] == ("C61", "H61", "most_recent")
    assert got["tie@example.com"] == ("C20", "H20", "most_recent")
    assert got["nohh@example.com"] == ("C31", None, "most_recent")
    assert got["fam@example.com"] == ("C40", "H40", "primary_holder")
    assert got["+447700900350"] == ("C50", "H50", "personal")
    # a postal address is owned by its household's primary holder
    assert got["1 OAK ROAD, LEEDS, LS11AA, GB"] == ("C40", "H40", "primary_holder")
    # an address or home phone held by two households: not decided by rule 3 either
    assert got["2 ELM ROAD, LEEDS, LS22BB, GB"] == ("C10", "H10", "most_recent")
    assert got["+442079460310"] == ("C10", "H10", "most_recent")


def test_a_prospect_phone_follows_its_email_into_a_customer_on_an_incremental_night(tmp_path: Path) -> None:
    """A phone seen only with an email (a lead) belongs to the email's prospect. When a customer's master record
    later names the email, the phone, which no new row names, becomes a prospect of its own: an incremental
    night (identity decided for the touched contact points only) finds that change as a whole run does."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    email, phone = "sam@example.org", "+447700900123"
    lead = f"L-1,LeadSpring,lakeside_energy,{email},{phone},Sam,,GB,,email,v2.1,2026-02-10T12:00:00Z,198.51.100.23\n"
    write(landing, "lead_lists", "2026-02-11T020000Z", "leads_1.csv", LEAD_HEADER + lead)
    run(landing, warehouse, AS_OF)
    assert owners(warehouse)[phone] == (prospect_id(email), None, "prospect")

    write(landing, CM, "2026-03-01T200000Z", "customers_1.csv", HEADER + customer("C1", email=email))
    night = run(landing, warehouse, "2026-03-02T06:00:00Z")
    assert night.figures["identity_scope"] > 0, "identity was decided for every contact point"
    assert owners(warehouse)[email] == ("C1", None, "personal")
    assert owners(warehouse)[phone] == (prospect_id(phone), None, "prospect")

    whole = tmp_path / "whole.duckdb"
    run(landing, whole, "2026-03-02T06:00:00Z")
    for table in ("contact_point_owner", "party_contact_points", "parties", "consent_current", "contact_permission"):
        assert table_hash(warehouse, table) == table_hash(whole, table), table
