"""Erasure reaches quarantined records: a bad record that mentions an erased email or phone loses its text."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import rows, run, write

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "C1,,true,Ana,Silva,ana.silva@example.co.uk,07700 900111,,1 Mill Lane,Leeds,,LS1 4AB,GB,customer,"
    "lakeside_home,2021-03-04T10:00:00Z,2026-01-30T08:00:00Z\n"
    "C2,,true,Bob,Stone,bob.stone@example.co.uk,07700 900222,,2 Mill Lane,Leeds,,LS1 4AB,GB,customer,"
    "lakeside_home,2021-03-04T10:00:00Z,2026-01-30T08:00:00Z\n"
)
# Twilio rows that cannot be read (an opt-in needs a usable time): a bad date for Ana's phone (in national digits
# inside the E.164 text), and one for Bob's, who is not erased.
TWILIO = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
    '+447700900111,+447700900500,START,received,"Tue, 31 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM1,inbound,,\n'
    '+447700900222,+447700900500,START,received,"Tue, 31 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM2,inbound,,\n'
)
# A truncated preference-centre line naming Ana's email (no customer id can be read from it).
ACCOUNTS = '{"UID": "u1", "profile": {"email": "Ana.Silva@example.co.uk", "firstName": "Ana"\n'
ERASURE = (
    '{"request_id": "DSR-1", "received_at": "2026-02-15T11:00:00Z", "regulation": "UK GDPR", "type": "erasure", '
    '"subject": {"customer_id": "C1", "emails": ["ana.silva@example.co.uk"], "phones": ["+447700900111"]}}\n'
)


def test_quarantined_text_of_an_erased_subject_is_scrubbed(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write(landing, "customer_master", "2026-02-01T010000Z", "customers_1.csv", CUSTOMERS)
    write(landing, "twilio_sms", "2026-02-10T010000Z", "messages_1.csv", TWILIO)
    write(landing, "preference_centre", "2026-02-10T010000Z", "accounts_1.jsonl", ACCOUNTS)
    write(landing, "erasure_requests", "2026-02-16T010000Z", "requests_1.jsonl", ERASURE)
    warehouse = tmp_path / "w.duckdb"
    run(landing, warehouse, "2026-02-20T06:00:00Z")
    got = rows(warehouse, "SELECT source, source_record, reason, raw FROM quarantine ORDER BY source, source_record")
    assert got == [
        ("preference_centre", 1, "invalid_json", "[erased]"),
        ("twilio_sms", 1, "bad_timestamp", "[erased]"),
        ("twilio_sms", 2, "bad_timestamp", TWILIO.splitlines()[2]),
    ]
    # Nothing of Ana is left in the clear anywhere in quarantine.
    assert rows(warehouse, "SELECT count(*) FROM quarantine WHERE lower(raw || detail) LIKE '%ana%'") == [(0,)]


def test_an_erased_idn_address_is_found_in_either_spelling(tmp_path: Path) -> None:
    """An address with an internationalised domain is one contact point whichever way it is written
    (Unicode or xn--): quarantined text naming it in either spelling, delivered after the erasure when
    only its hash is left, loses its text."""
    landing = tmp_path / "landing"
    customers = CUSTOMERS.replace("ana.silva@example.co.uk", "Ana@Bücher.de")
    write(landing, "customer_master", "2026-02-01T010000Z", "customers_1.csv", customers)
    erasure = ERASURE.replace("ana.silva@example.co.uk", "ana@xn--bcher-kva.de")
    write(landing, "erasure_requests", "2026-02-16T010000Z", "requests_1.jsonl", erasure)
    warehouse = tmp_path / "w.duckdb"
    run(landing, warehouse, "2026-02-20T06:00:00Z")
    # After the erasure, two unreadable records name her, one in each spelling.
    accounts = (
        '{"UID": "u1", "profile": {"email": "ANA@xn--bcher-kva.de", "firstName": "A"\n'
        '{"UID": "u2", "profile": {"email": "ana@bücher.de", "firstName": "A"\n'
    )
    write(landing, "preference_centre", "2026-02-21T010000Z", "accounts_1.jsonl", accounts)
    run(landing, warehouse, "2026-03-01T06:00:00Z")
    got = rows(warehouse, "SELECT source_record, raw FROM quarantine WHERE source = 'preference_centre' ORDER BY 1")
    assert got == [(1, "[erased]"), (2, "[erased]")]
    assert rows(warehouse, "SELECT count(*) FROM quarantine WHERE lower(raw) LIKE '%cher%'") == [(0,)]
