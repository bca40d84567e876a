"""mailchimp connector: audience exports (feeds.md §3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted
from tests.helpers import rows, run, write

S = "mailchimp"
D = "2026-02-20T020000Z"
STANDARD = (
    '"Email Address","First Name","Last Name","Phone Number",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,'
    "CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
)
SUBSCRIBED = STANDARD + "LAST_CHANGED,LEID,EUID,NOTES,TAGS\n"
UNSUBSCRIBED = (
    STANDARD
    + "UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,"
    + "LEID,EUID,NOTES,TAGS\n"
)
CLEANED = STANDARD + "CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS\n"


def member(email: str, when: str, extra: str, optin: str = "", leid: str = "1001") -> str:
    """A row of the unsubscribed or cleaned export: `when` is UNSUB_TIME or CLEAN_TIME, `extra` the columns
    after it up to LEID."""
    return f"{email},Ana,Silva,,2,{optin},203.0.113.7,,,,,,,,GB,,{when},{extra},{leid},e1,,\n"


def sub(
    email: str,
    optin: str = "",
    confirm: str = "",
    changed: str = "2026-02-01 00:00:00",
    phone: str = "",
    cc: str = "GB",
    leid: str = "1001",
) -> str:
    """A row of the subscribed export."""
    return f"{email},Ana,Silva,{phone},2,{optin},203.0.113.7,{confirm},203.0.113.7,,,,,,{cc},,{changed},{leid},e1,,\n"


def reasons(batch: Batch) -> list[tuple[str, int, str]]:
    rows = batch.rejects.select(pl.col("source_file").str.split("/").list.last(), "source_record", "reason").unique()
    return sorted(rows.iter_rows())


EVENT_COLS = (
    "contact_point",
    "contact_point_type",
    "party_id",
    "channel",
    "purpose",
    "brand",
    "status",
    "basis",
    "event_ts",
    "double_opt_in",
    "source_record_id",
)


def test_subscribed_members_are_opt_ins(drop, read):
    drop(
        S,
        D,
        "subscribed_members_export_a1h0menews.csv",
        SUBSCRIBED
        + sub("Ana@Example.co.uk", "2026-02-01 08:00:00", "2026-02-01 08:03:00", leid="11", phone="07700 900456")
        + sub("bo@example.com", "2026-02-02 09:00:00", "", leid="12", cc="US")
        + sub("cy@example.com", "", "", "2026-02-03 10:00:00", leid="13", cc=""),
    )
    batch = read(S)
    h, n = "lakeside_home", "marketing.newsletter"
    assert batch.table("events").sort("source_record").select(EVENT_COLS).rows() == [
        # CONFIRM_TIME: confirmed by double opt-in, at CONFIRM_TIME
        (
            "ana@example.co.uk",
            "email",
            None,
            "email",
            n,
            h,
            "opt_in",
            "express",
            dt.datetime(2026, 2, 1, 8, 3),
            True,
            "11",
        ),
        # OPTIN_TIME only: a single opt-in
        (
            "bo@example.com",
            "email",
            None,
            "email",
            n,
            h,
            "opt_in",
            "express",
            dt.datetime(2026, 2, 2, 9),
            False,
            "12",
        ),
        # neither: an imported contact, at LAST_CHANGED
        (
            "cy@example.com",
            "email",
            None,
            "email",
            n,
            h,
            "opt_in",
            "imported",
            dt.datetime(2026, 2, 3, 10),
            False,
            "13",
        ),
    ]
    evidence = batch.table("contact_evidence")
    assert evidence.select("contact_point", "party_id", "kind", "evidence_ts", "source_record").rows() == [
        ("ana@example.co.uk", None, "double_opt_in", dt.datetime(2026, 2, 1, 8, 3), 1)
    ]
    profiles = batch.table("subject_profiles").sort("source_record")
    assert profiles.select("email", "phone", "country", "first_name", "last_name", "observed_ts").rows() == [
        ("ana@example.co.uk", "+447700900456", "GB", "Ana", "Silva", dt.datetime(2026, 2, 1, 8, 3)),
        ("bo@example.com", None, "US", "Ana", "Silva", dt.datetime(2026, 2, 2, 9)),
        ("cy@example.com", None, None, "Ana", "Silva", dt.datetime(2026, 2, 3, 10)),
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"subscribed_members_export_a1h0menews.csv": (3, 0, 0)}


def test_unsubscribed_export_with_repeated_merge_and_missing_columns(drop, read):
    # No Phone Number or TAGS, EMAIL_TYPE and an audience merge field with a comma, UNSUB_* named twice.
    header = (
        '"Email Address","Favourite Store",EMAIL_TYPE,"First Name","Last Name",MEMBER_RATING,'
        "OPTIN_TIME,OPTIN_IP,"
        "CONFIRM_TIME,CONFIRM_IP,CC,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,"
        "UNSUB_REASON_OTHER,UNSUB_CAMPAIGN_ID,UNSUB_REASON,LEID,EUID,NOTES\n"
    )
    row = (
        '"Mick.Chimp@Example.co.uk","Leeds, Kirkstall",html,"Mick","Chimp","2","2025-10-01 08:00:00","",'
        '"","","GB","2026-02-15 23:59:59","Weekly picks","c0ffee1234","NORMAL","","x","y","58547170","e",""\n'
    )
    drop(S, D, "unsubscribed_members_export_a1m0tor5uk.csv", header + row)
    batch = read(S)
    assert batch.table("events").select(EVENT_COLS).rows() == [
        (
            "mick.chimp@example.co.uk",
            "email",
            None,
            "email",
            "marketing.offers",
            "lakeside_motors",
            "opt_out",
            "express",
            dt.datetime(2026, 2, 15, 23, 59, 59),
            False,
            "58547170",
        ),
    ]
    assert batch.table("subject_profiles").select("first_name", "phone", "country").rows() == [("Mick", None, "GB")]
    assert batch.rejects.height == 0


def test_cleaned_member_is_undeliverable_not_an_event(drop, read):
    drop(
        S,
        D,
        "cleaned_members_export_a1h0meoffr.csv",
        CLEANED + member("Dee@Example.com", "2026-02-12 06:00:00", "Promo,c1", optin="2025-01-01 00:00:00"),
    )
    batch = read(S)
    assert batch.table("events").height == 0
    undeliverable = batch.table("undeliverable")
    assert undeliverable.select("contact_point", "contact_point_type", "reason", "since_ts").rows() == [
        ("dee@example.com", "email", "cleaned", dt.datetime(2026, 2, 12, 6))
    ]
    assert batch.table("subject_profiles")["observed_ts"].to_list() == [dt.datetime(2026, 2, 12, 6)]
    assert accounted(batch) == {"cleaned_members_export_a1h0meoffr.csv": (1, 0, 0)}


def test_unknown_audience_rejects_every_record_of_the_file(drop, read):
    drop(
        S,
        D,
        "unsubscribed_members_export_zz9unknwn.csv",
        UNSUBSCRIBED
        + member("a@example.com", "2026-02-12 06:00:00", "t,c,NORMAL,")
        + member("b@example.com", "2026-02-12 06:00:00", "t,c,NORMAL,"),
    )
    drop(
        S,
        D,
        "subscribed_members_export_a1h0menews.csv",
        SUBSCRIBED + sub("c@example.com", "2026-02-01 08:00:00"),
    )
    batch = read(S)
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (1, "unmapped_audience", "audience: zz9unknwn"),
        (2, "unmapped_audience", "audience: zz9unknwn"),
    ]
    assert batch.rejects["raw"][0].startswith("a@example.com,")
    assert batch.table("events")["contact_point"].to_list() == ["c@example.com"]
    assert accounted(batch) == {
        "unsubscribed_members_export_zz9unknwn.csv": (0, 0, 2),
        "subscribed_members_export_a1h0menews.csv": (1, 0, 0),
    }


def test_bad_members_are_quarantined_and_the_rest_carries_on(drop, read):
    drop(
        S,
        D,
        "subscribed_members_export_a1h0menews.csv",
        SUBSCRIBED
        + sub("jane.doe(at)example.com", "2026-02-01 08:00:00")
        + sub("", "2026-02-01 08:00:00")
        # a CONFIRM_TIME that cannot be read is not replaced by OPTIN_TIME
        + sub("ed@example.com", "2026-02-01 08:00:00", "01/02/2026 08:03")
        + sub("fay@example.com", "", "", "")
        + sub("gil@example.com", "2026-02-22 08:00:00")
        + sub("hal@example.com", "2026-02-01 08:00:00", phone="call me", leid="ok"),
    )
    batch = read(S)
    f = "subscribed_members_export_a1h0menews.csv"
    assert reasons(batch) == [
        (f, 1, "invalid_email"),
        (f, 2, "missing_value"),
        (f, 3, "bad_timestamp"),
        (f, 4, "bad_timestamp"),
        (f, 5, "future_timestamp"),
        (f, 6, "invalid_phone"),  # a rejected part: the opt-in stands
    ]
    details = dict(batch.rejects.select("source_record", "detail").unique().iter_rows())
    assert details[3] == "CONFIRM_TIME: 01/02/2026 08:03"
    assert details[4] == "LAST_CHANGED: "
    assert batch.table("events")["source_record_id"].to_list() == ["ok"]
    assert batch.table("subject_profiles").select("email", "phone").rows() == [("hal@example.com", None)]
    assert accounted(batch) == {f: (1, 0, 5)}


def test_missing_time_column_quarantines_the_file(drop, read):
    drop(S, D, "unsubscribed_members_export_a1h0menews.csv", '"Email Address",LEID\na@example.com,1\n')
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(1, "missing_column")]
    assert batch.table("events").height == 0


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "members_export_a1h0menews.csv", SUBSCRIBED)
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": {
            "subscribed_members_export_a1h0menews.csv": (1, 0, 1),
            "subscribed_members_export_zz9unknwn.csv": (0, 0, 1),
        },
        "late_delivery": {
            "subscribed_members_export_a1m0tor5uk.csv": (1, 0, 0),
            "unsubscribed_members_export_a1h0meoffr.csv": (1, 0, 0),
            "unsubscribed_members_export_a1h0menews.csv": (1, 0, 0),
        },
        "formats_and_time": {"unsubscribed_members_export_a1m0tor5uk.csv": (1, 0, 0)},
        # two nightly snapshots of the same audience: the same rows twice (duplicates in the event log)
        "erasure": {"subscribed_members_export_a1h0menews.csv": (2, 0, 0)},
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, ledger in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert sorted(set(bad.rejects.select("reason", "detail").iter_rows())) == [
        ("invalid_email", "jane.doe(at)example.com"),
        ("unmapped_audience", "audience: zz9unknwn"),
    ]
    assert bad.table("events").select("contact_point", "event_ts", "double_opt_in").rows() == [
        ("gus.mailchimp@example.co.uk", dt.datetime(2026, 2, 15, 8, 3), True)
    ]
    snapshots = read_source(S, SCENARIOS / "erasure" / "landing", rules).table("events")
    assert snapshots.drop("delivery", "received_ts", "source_file").unique().height == 2


# --- current exports (`<status>_email_audience_export_<audience>.csv`) -------------------------------

# Merge fields of the audience first and between the standard columns, every value quoted, no TAGS.
CURRENT_SUBSCRIBED = (
    '"Email Address","First Name","Last Name","Address","Phone Number","Birthday",EMAIL_TYPE,MEMBER_RATING,'
    "OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
    '"Favourite Store",LAST_CHANGED,LEID,EUID,NOTES\n'
)
# Real unsubscribed exports name UNSUB_CAMPAIGN_ID and UNSUB_REASON twice (the first one counts).
CURRENT_UNSUBSCRIBED = (
    '"Email Address","First Name","Last Name","Address",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,'
    "CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,"
    "UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS,UNSUB_CAMPAIGN_ID,UNSUB_REASON\n"
)
CURRENT_CLEANED = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,'
    "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,"
    "LEID,EUID,NOTES,TAGS\n"
)
ADDRESS = '"12 Bay St, Flat 2  Leeds  LS1 1AA GB"'


def current_sub(email: str, optin: str, confirm: str, changed: str, leid: str) -> str:
    return (
        f'"{email}","Ana","Silva",{ADDRESS},"","1985-04-02","html","2","{optin}","203.0.113.7","{confirm}",'
        f'"","","","","","","GB","","Leeds, Kirkstall","{changed}","{leid}","e{leid}",""\n'
    )


def current_unsub(email: str, when: str, leid: str) -> str:
    return (
        f'"{email}","Bo","Lee",{ADDRESS},"2","2025-10-01 08:00:00","","","","","","","","","GB","","{when}",'
        f'"Spring offers, week 2","c0ffee1234","NORMAL","","{leid}","e{leid}","","","dup-id","dup-reason"\n'
    )


def current_cleaned(email: str, when: str, leid: str) -> str:
    return f'"{email}","Cy","Do","2","","","","","","","","","","GB","","{when}","Promo","c1","{leid}","e","",""\n'


def test_current_exports_with_merge_fields_and_repeated_columns(drop, read):
    drop(
        S,
        D,
        "subscribed_email_audience_export_a1h0menews.csv",
        CURRENT_SUBSCRIBED
        + current_sub("Ana@Example.co.uk", "2026-02-01 08:00:00", "2026-02-01 08:03:00", "2026-02-01 08:03:00", "11")
        + current_sub("imp@example.co.uk", "", "", "2026-02-03 10:00:00", "12"),
    )
    drop(
        S,
        D,
        "unsubscribed_email_audience_export_a1m0tor5uk.csv",
        CURRENT_UNSUBSCRIBED
        + current_unsub("Bo@Example.co.uk", "2026-02-15 23:59:59", "21")
        # no UNSUB_TIME: the opt-out takes effect at the delivery's time, estimated
        + current_unsub("nobody-knows@example.co.uk", "", "22"),
    )
    drop(
        S,
        D,
        "cleaned_email_audience_export_a1h0meoffr.csv",
        CURRENT_CLEANED
        + current_cleaned("gone@example.co.uk", "2026-02-12 06:00:00", "31")
        + current_cleaned("bounced@example.co.uk", "", "32"),
    )
    drop(
        S,
        D,
        "nonsubscribed_email_audience_export_a1h0menews.csv",
        '"Email Address","First Name",LAST_CHANGED,LEID\n"t1@example.com","T",2026-02-01 00:00:00,41\n'
        '"t2@example.com","U",2026-02-01 00:00:00,42\n',
    )
    batch = read(S)
    received = dt.datetime(2026, 2, 20, 2)
    events = batch.table("events").sort("source_file", "source_record")
    assert events.select(
        "contact_point",
        "brand",
        "purpose",
        "status",
        "basis",
        "event_ts",
        "double_opt_in",
        "event_ts_estimated",
        "first_sighting",
        "source_record_id",
    ).rows() == [
        (
            "ana@example.co.uk",
            "lakeside_home",
            "marketing.newsletter",
            "opt_in",
            "express",
            dt.datetime(2026, 2, 1, 8, 3),
            True,
            False,
            False,
            "11",
        ),
        (
            "imp@example.co.uk",
            "lakeside_home",
            "marketing.newsletter",
            "opt_in",
            "imported",
            dt.datetime(2026, 2, 3, 10),
            False,
            False,
            True,
            "12",
        ),
        (
            "bo@example.co.uk",
            "lakeside_motors",
            "marketing.offers",
            "opt_out",
            "express",
            dt.datetime(2026, 2, 15, 23, 59, 59),
            False,
            False,
            False,
            "21",
        ),
        (
            "nobody-knows@example.co.uk",
            "lakeside_motors",
            "marketing.offers",
            "opt_out",
            "express",
            received,
            False,
            True,
            True,
            "22",
        ),
    ]
    undeliverable = batch.table("undeliverable").sort("source_record")
    assert undeliverable.select("contact_point", "since_ts", "reason", "first_sighting", "detail").rows() == [
        ("gone@example.co.uk", dt.datetime(2026, 2, 12, 6), "cleaned", False, None),
        ("bounced@example.co.uk", received, "cleaned", True, "CLEAN_TIME:  (dated at its first delivery)"),
    ]
    profiles = batch.table("subject_profiles").sort("source_file", "source_record")
    assert profiles.select("email", "first_name", "country").rows() == [
        ("gone@example.co.uk", "Cy", "GB"),
        ("ana@example.co.uk", "Ana", "GB"),
        ("imp@example.co.uk", "Ana", "GB"),
        ("bo@example.co.uk", "Bo", "GB"),
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {
        "subscribed_email_audience_export_a1h0menews.csv": (2, 0, 0),
        "unsubscribed_email_audience_export_a1m0tor5uk.csv": (2, 0, 0),
        "cleaned_email_audience_export_a1h0meoffr.csv": (2, 0, 0),
        "nonsubscribed_email_audience_export_a1h0menews.csv": (0, 2, 0),
    }
    assert set(batch.skips["reason"].to_list()) == {"nonsubscribed"}


# --- through the pipeline: nightly snapshots into one warehouse -------------------------------------

N1, N2 = "2026-02-10T020000Z", "2026-02-11T020000Z"
L1, L2 = "2026-02-05 10:00:00", "2026-02-10 18:30:00"  # a profile edit moved LAST_CHANGED


def _snapshot(landing: Path, delivery: str, changed: str) -> None:
    """One night's exports: an imported member (no OPTIN_TIME, no CONFIRM_TIME), a member who unsubscribed
    with no UNSUB_TIME, a member cleaned with no CLEAN_TIME."""
    write(
        landing,
        S,
        delivery,
        "subscribed_email_audience_export_a1h0menews.csv",
        CURRENT_SUBSCRIBED + current_sub("Imp@Example.co.uk", "", "", changed, "12"),
    )
    write(
        landing,
        S,
        delivery,
        "unsubscribed_email_audience_export_a1h0meoffr.csv",
        CURRENT_UNSUBSCRIBED + current_unsub("quiet@example.co.uk", "", "22"),
    )
    write(
        landing,
        S,
        delivery,
        "cleaned_email_audience_export_a1h0meoffr.csv",
        CURRENT_CLEANED + current_cleaned("bounced@example.co.uk", "", "32"),
    )


MC_STATE = """
    SELECT e.contact_point, e.basis, e.status, e.event_ts, e.event_ts_estimated, e.delivery
    FROM consent_events e WHERE e.source = 'mailchimp' ORDER BY ALL
"""


def _mailchimp_state(warehouse: Path) -> tuple[list, list, list]:
    current = rows(
        warehouse,
        "SELECT contact_point, purpose, status, basis, event_ts FROM consent_current"
        " WHERE source = 'mailchimp' AND brand = 'lakeside_home' AND channel = 'email' ORDER BY ALL",
    )
    undeliverable = rows(
        warehouse, "SELECT contact_point, since_ts, first_sighting, delivery FROM undeliverable ORDER BY ALL"
    )
    return rows(warehouse, MC_STATE), current, undeliverable


def _ledger_balanced(warehouse: Path) -> None:
    assert (
        rows(
            warehouse,
            "SELECT source_file FROM ingest_ledger"
            " WHERE rows_read <> rows_accepted + rows_skipped + rows_duplicate + rows_quarantined",
        )
        == []
    )


@pytest.mark.parametrize("order", ["in_order", "later_first"])
def test_snapshots_never_re_date_an_import_an_estimated_opt_out_or_a_cleaned_member(tmp_path: Path, order: str) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "w.duckdb"
    first = dt.datetime(2026, 2, 10, 2)
    if order == "in_order":
        _snapshot(landing, N1, L1)
        run(landing, warehouse, "2026-02-10T06:00:00Z")
        _snapshot(landing, N2, L2)
        run(landing, warehouse, "2026-02-11T06:00:00Z")
    else:  # the second night's snapshot is read first, the first night's lands late
        _snapshot(landing, N2, L2)
        run(landing, warehouse, "2026-02-11T06:00:00Z")
        _snapshot(landing, N1, L1)
        run(landing, warehouse, "2026-02-11T06:00:00Z")
    events, current, undeliverable = _mailchimp_state(warehouse)
    assert events == [
        ("imp@example.co.uk", "imported", "opt_in", dt.datetime(2026, 2, 5, 10), False, N1),
        ("quiet@example.co.uk", "express", "opt_out", first, True, N1),
    ]
    assert current == [
        ("imp@example.co.uk", "marketing.newsletter", "opt_in", "imported", dt.datetime(2026, 2, 5, 10)),
        ("quiet@example.co.uk", "marketing.offers", "opt_out", "express", first),
    ]
    assert undeliverable == [("bounced@example.co.uk", first, True, N1)]
    # The snapshot read second holds only duplicates (the imported member's other LAST_CHANGED included).
    later = N2 if order == "in_order" else N1
    assert rows(
        warehouse,
        "SELECT sum(rows_read), sum(rows_duplicate) FROM ingest_ledger WHERE source = 'mailchimp' AND delivery = ?",
        [later],
    ) == [(3, 3)]
    _ledger_balanced(warehouse)
