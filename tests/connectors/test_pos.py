"""pos connector: store point-of-sale receipts with the delivery's stores.csv (feeds.md §8)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "pos"
D = "2026-11-01T020000Z"
STORES_HEADER = "store_id,brand,country,timezone,date_format\n"
UK = "S-UK-014,lakeside_home,GB,Europe/London,DMY\n"
NY = "S-US-NY01,lakeside_energy,US,America/New_York,MDY\n"
HEADER = (
    "store_id,receipt_no,txn_local_time,customer_id,email,mobile,marketing_optin_email,marketing_optin_sms,"
    "amount,currency\n"
)
R = "receipts_0001.csv"


def receipt(
    when: str = "03/02/2026 17:45",
    store: str = "S-UK-014",
    no: str = "000918",
    customer: str = "C100001",
    email: str = "Ana@Example.com",
    mobile: str = "07700 900123",
    opt_email: str = "",
    opt_sms: str = "",
    amount: str = "59.90",
    currency: str = "GBP",
) -> str:
    return f"{store},{no},{when},{customer},{email},{mobile},{opt_email},{opt_sms},{amount},{currency}\n"


def stores(*rows: str) -> str:
    return STORES_HEADER + "".join(rows)


def rejects(batch: Batch) -> list[tuple[str, int, str, str]]:
    rows = batch.rejects.select(
        pl.col("source_file").str.split("/").list.last(), "source_record", "reason", "detail"
    ).unique()
    return sorted(rows.iter_rows())


def occurred(batch: Batch) -> dict[str, dt.datetime]:
    return dict(batch.table("activity").select("activity_id", "occurred_at").iter_rows())


def test_stores_are_rows_of_their_own(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    batch = read(S)
    assert batch.table("stores").select(
        "source_record", "source_record_id", "store_id", "brand", "country", "timezone", "date_format"
    ).rows() == [
        (1, "S-UK-014", "S-UK-014", "lakeside_home", "GB", "Europe/London", "DMY"),
        (2, "S-US-NY01", "S-US-NY01", "lakeside_energy", "US", "America/New_York", "MDY"),
    ]
    assert accounted(batch) == {"stores.csv": (2, 0, 0)}


def test_day_month_order_follows_the_store(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt("03/02/2026 17:45", no="1")  # DMY, London in winter: 3 February, GMT
        + receipt("03/02/2026 09:15", store="S-US-NY01", no="2"),  # MDY: 2 March, EST (UTC-5)
    )
    assert occurred(read(S)) == {
        "S-UK-014:1": dt.datetime(2026, 2, 3, 17, 45),
        "S-US-NY01:2": dt.datetime(2026, 3, 2, 14, 15),
    }


def test_local_time_converted_across_dst(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt("03/07/2026 14:30", store="S-US-NY01", no="1")  # before US DST (8 March): EST
        + receipt("03/09/2026 14:30", store="S-US-NY01", no="2")  # after: EDT (UTC-4)
        + receipt("28/03/2026 10:00", no="3")  # before UK DST (29 March): GMT
        + receipt("30/03/2026 10:00", no="4")  # after: BST (UTC+1)
        + receipt("29/03/2026 01:30", no="5")  # the skipped hour: read as if the clock had not changed
        + receipt("25/10/2026 01:30", no="6")  # the repeated hour: the earlier instant (BST)
        + receipt("03/02/2026 17:45:30", no="7"),  # seconds tolerated
    )
    assert occurred(read(S)) == {
        "S-US-NY01:1": dt.datetime(2026, 3, 7, 19, 30),
        "S-US-NY01:2": dt.datetime(2026, 3, 9, 18, 30),
        "S-UK-014:3": dt.datetime(2026, 3, 28, 10),
        "S-UK-014:4": dt.datetime(2026, 3, 30, 9),
        "S-UK-014:5": dt.datetime(2026, 3, 29, 1, 30),
        "S-UK-014:6": dt.datetime(2026, 10, 25, 0, 30),
        "S-UK-014:7": dt.datetime(2026, 2, 3, 17, 45, 30),
    }


def test_every_receipt_is_a_purchase(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt(no="000918")
        + receipt(no="000919", customer="", mobile="", amount="5", currency="gbp")  # a walk-in
        + receipt(store="S-US-NY01", no="7", customer="", email="", mobile="(415) 555-0134", currency="USD"),
    )
    batch = read(S)
    assert batch.table("activity").select(
        "source_record",
        "source_record_id",
        "activity_id",
        "party_id",
        "brand",
        "kind",
        "occurred_at",
        "amount",
        "currency",
        "email",
        "phone",
    ).rows() == [
        (
            1,
            "S-UK-014:000918",
            "S-UK-014:000918",
            "C100001",
            "lakeside_home",
            "purchase",
            dt.datetime(2026, 2, 3, 17, 45),
            59.9,
            "GBP",
            "ana@example.com",
            "+447700900123",  # the store's country parses the national number
        ),
        (
            2,
            "S-UK-014:000919",
            "S-UK-014:000919",
            None,
            "lakeside_home",
            "purchase",
            dt.datetime(2026, 2, 3, 17, 45),
            5.0,
            "GBP",
            "ana@example.com",
            None,
        ),
        (
            3,
            "S-US-NY01:7",
            "S-US-NY01:7",
            None,
            "lakeside_energy",
            "purchase",
            dt.datetime(2026, 3, 2, 22, 45),
            59.9,
            "USD",
            None,
            "+14155550134",
        ),
    ]
    assert batch.table("events").height == 0  # no box ticked: no decision
    assert batch.rejects.height == 0
    assert accounted(batch) == {"stores.csv": (2, 0, 0), R: (3, 0, 0)}


def test_ticked_boxes_are_express_opt_ins_on_the_receipt_contact_points(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt(no="1", opt_email="Y", opt_sms="Y")
        + receipt(no="2", customer="", opt_email="y", opt_sms="N")  # a walk-in, known by email
        + receipt(no="3", opt_email="N", opt_sms="")  # unticked: never an opt-out
        + receipt(store="S-US-NY01", no="4", mobile="415 555 0134", opt_sms="Y"),
    )
    batch = read(S)
    events = batch.table("events").sort("source_record", "channel")
    assert events.select(
        "source_record",
        "source_record_id",
        "party_id",
        "contact_point",
        "contact_point_type",
        "channel",
        "purpose",
        "brand",
        "status",
        "basis",
        "event_ts",
        "double_opt_in",
    ).rows() == [
        (
            1,
            "S-UK-014:1",
            "C100001",
            "ana@example.com",
            "email",
            "email",
            "marketing.offers",
            "lakeside_home",
            "opt_in",
            "express",
            dt.datetime(2026, 2, 3, 17, 45),
            False,
        ),
        (
            1,
            "S-UK-014:1",
            "C100001",
            "+447700900123",
            "phone",
            "sms",
            "marketing.offers",
            "lakeside_home",
            "opt_in",
            "express",
            dt.datetime(2026, 2, 3, 17, 45),
            False,
        ),
        (
            2,
            "S-UK-014:2",
            None,
            "ana@example.com",
            "email",
            "email",
            "marketing.offers",
            "lakeside_home",
            "opt_in",
            "express",
            dt.datetime(2026, 2, 3, 17, 45),
            False,
        ),
        (
            4,
            "S-US-NY01:4",
            "C100001",
            "+14155550134",
            "phone",
            "sms",
            "marketing.offers",
            "lakeside_energy",
            "opt_in",
            "express",
            dt.datetime(2026, 3, 2, 22, 45),
            False,
        ),
    ]
    assert set(events["status"]) == {"opt_in"}
    assert accounted(batch) == {"stores.csv": (2, 0, 0), R: (4, 0, 0)}


def test_ticked_box_without_contact_point_and_bad_box_value_are_rejected_parts(drop, read):
    drop(S, D, "stores.csv", stores(UK))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt(no="1", email="", opt_email="Y", opt_sms="Y")
        + receipt(no="2", mobile="", opt_sms="Y")
        + receipt(no="3", opt_email="X", opt_sms="Y"),
    )
    batch = read(S)
    assert batch.table("events").sort("source_record").select("source_record", "channel").rows() == [
        (1, "sms"),
        (3, "sms"),
    ]
    assert rejects(batch) == [
        (R, 1, "no_contact_point", "marketing_optin_email=Y without email"),
        (R, 2, "no_contact_point", "marketing_optin_sms=Y without mobile"),
        (R, 3, "bad_value", "marketing_optin_email: X"),
    ]
    # the purchases stand: every receipt is accepted
    assert accounted(batch) == {"stores.csv": (1, 0, 0), R: (3, 0, 0)}


def test_bad_amount_is_a_rejected_part_and_the_purchase_stands(drop, read):
    drop(S, D, "stores.csv", stores(UK))
    drop(S, D, R, HEADER + receipt(no="1", amount="12.5O") + receipt(no="2", amount=""))
    batch = read(S)
    assert batch.table("activity").select("activity_id", "amount").rows() == [
        ("S-UK-014:1", None),
        ("S-UK-014:2", None),
    ]
    assert rejects(batch) == [(R, 1, "bad_value", "amount: 12.5O")]
    assert accounted(batch) == {"stores.csv": (1, 0, 0), R: (2, 0, 0)}


def test_invalid_email_is_rejected_by_the_core(drop, read):
    drop(S, D, "stores.csv", stores(UK))
    drop(S, D, R, HEADER + receipt(no="1", email="ana.example.com", mobile="", opt_email="Y"))
    batch = read(S)
    assert batch.table("events").height == 0
    assert batch.table("activity").select("activity_id", "email").rows() == [("S-UK-014:1", None)]
    assert rejects(batch) == [(R, 1, "invalid_email", "ana.example.com")]
    assert accounted(batch) == {"stores.csv": (1, 0, 0), R: (1, 0, 0)}


def test_a_mobile_with_letters_is_rejected_never_read_as_digits(drop, read):
    drop(S, D, "stores.csv", stores(UK))
    drop(S, D, R, HEADER + receipt(no="1", mobile="07700 900ABC", opt_email="Y", opt_sms="Y"))
    batch = read(S)
    # the sms opt-in goes nowhere (+447700900222 would be a stranger's number); the email one stands
    assert batch.table("events").select("channel", "contact_point").rows() == [("email", "ana@example.com")]
    assert batch.table("activity").select("email", "phone").rows() == [("ana@example.com", None)]
    assert rejects(batch) == [(R, 1, "invalid_phone", "07700 900ABC")]
    assert accounted(batch) == {"stores.csv": (1, 0, 0), R: (1, 0, 0)}


def test_impossible_dates_and_bad_times(drop, read):
    drop(S, D, "stores.csv", stores(UK, NY))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt("31/02/2026 12:00", no="1", opt_email="Y")  # DMY: 31 February
        + receipt("02/31/2026 12:00", store="S-US-NY01", no="2")  # MDY: 31 February
        + receipt("13/25/2026 12:00", store="S-US-NY01", no="3")  # a DMY date in an MDY store
        + receipt("2026-02-03 17:45", no="4")
        + receipt("", no="5")
        + receipt("05/11/2026 12:00", no="6"),  # days after the delivery: the core's future rule
    )
    batch = read(S)
    assert batch.table("activity").height == 0
    assert batch.table("events").height == 0
    assert rejects(batch) == [
        (R, 1, "bad_timestamp", "txn_local_time: 31/02/2026 12:00 (DMY store, Europe/London)"),
        (R, 2, "bad_timestamp", "txn_local_time: 02/31/2026 12:00 (MDY store, America/New_York)"),
        (R, 3, "bad_timestamp", "txn_local_time: 13/25/2026 12:00 (MDY store, America/New_York)"),
        (R, 4, "bad_timestamp", "txn_local_time: 2026-02-03 17:45 (DMY store, Europe/London)"),
        (R, 5, "bad_timestamp", "txn_local_time:  (DMY store, Europe/London)"),
        (R, 6, "future_timestamp", "2026-11-05 12:00:00.000000"),
    ]
    assert accounted(batch) == {"stores.csv": (2, 0, 0), R: (0, 0, 6)}


def test_unknown_store_and_stores_of_another_delivery(drop, read):
    drop(S, "2026-10-01T020000Z", "stores.csv", stores(UK, NY))
    drop(S, D, "stores.csv", stores(UK))
    drop(
        S,
        D,
        R,
        HEADER
        + receipt(no="1")
        + receipt(store="S-US-NY01", no="2", opt_email="Y")  # listed only in an earlier delivery
        + receipt(store="", no="3")
        + receipt(no="", opt_email="Y"),
    )
    batch = read(S)
    assert batch.table("activity")["activity_id"].to_list() == ["S-UK-014:1"]
    assert batch.table("events").height == 0
    assert rejects(batch) == [
        (R, 2, "unknown_store", "store_id: S-US-NY01 (not in this delivery's stores.csv)"),
        (R, 3, "missing_value", "store_id is empty"),
        (R, 4, "missing_value", "receipt_no is empty"),
    ]
    assert accounted(batch)[R] == (1, 0, 3)


def test_receipts_without_stores_file(drop, read):
    drop(S, D, R, HEADER + receipt(no="1"))
    batch = read(S)
    assert rejects(batch) == [(R, 1, "unknown_store", "store_id: S-UK-014 (not in this delivery's stores.csv)")]
    assert accounted(batch) == {R: (0, 0, 1)}


def test_bad_store_rows_and_their_receipts(drop, read):
    drop(
        S,
        D,
        "stores.csv",
        stores(
            UK,
            "S-X1,lakeside_pets,GB,Europe/London,DMY\n",
            "S-X2,lakeside_home,GB,Europe/Londres,DMY\n",
            "S-X3,lakeside_home,GB,Europe/London,YMD\n",
            ",lakeside_home,GB,Europe/London,DMY\n",
            "S-X4,lakeside_home,GB,Europe/London,DMY\n",
            "S-X4,lakeside_home,GB,Europe/Dublin,DMY\n",
            "S-X5,lakeside_home,gb,Europe/London,dmy\n",
            "S-X5,lakeside_home,GB,Europe/London,DMY\n",  # the same store twice: fine
        ),
    )
    drop(S, D, R, HEADER + receipt(store="S-X2", no="1") + receipt(store="S-X5", no="2"))
    batch = read(S)
    assert batch.table("stores").select("source_record", "store_id", "country", "date_format").rows() == [
        (1, "S-UK-014", "GB", "DMY"),
        (8, "S-X5", "GB", "DMY"),
        (9, "S-X5", "GB", "DMY"),
    ]
    assert rejects(batch) == [
        (R, 1, "unknown_store", "store_id: S-X2 (not in this delivery's stores.csv)"),
        ("stores.csv", 2, "unknown_brand", "brand: lakeside_pets"),
        ("stores.csv", 3, "bad_value", "timezone: Europe/Londres"),
        ("stores.csv", 4, "bad_value", "date_format: YMD"),
        ("stores.csv", 5, "missing_value", "store_id is empty"),
        ("stores.csv", 6, "conflicting_store", "store_id S-X4 is listed with different details"),
        ("stores.csv", 7, "conflicting_store", "store_id S-X4 is listed with different details"),
    ]
    assert batch.table("activity")["activity_id"].to_list() == ["S-X5:2"]
    assert accounted(batch) == {"stores.csv": (3, 0, 6), R: (1, 0, 1)}


def test_missing_required_columns(drop, read):
    drop(S, D, "stores.csv", "store_id,brand,country,timezone\nS-UK-014,lakeside_home,GB,Europe/London\n")
    drop(
        S,
        "2026-10-01T020000Z",
        "stores.csv",
        stores(UK),
    )
    drop(
        S,
        "2026-10-01T020000Z",
        R,
        "store_id,receipt_no,txn_local_time,customer_id,email,marketing_optin_email,amount,currency\n"
        "S-UK-014,1,03/02/2026 17:45,C1,a@example.com,Y,1.00,GBP\n",
    )
    batch = read(S)
    assert rejects(batch) == [
        (R, 1, "missing_column", "missing column(s): mobile, marketing_optin_sms"),
        ("stores.csv", 1, "missing_column", "missing column(s): date_format"),
    ]
    assert batch.table_names == ["stores"]
    assert sorted(batch.files.select("delivery", "rows_read").iter_rows()) == [
        ("2026-10-01T020000Z", 1),
        ("2026-10-01T020000Z", 1),
        (D, 1),
    ]


def test_columns_by_name_in_any_order(drop, read):
    drop(
        S,
        D,
        "stores.csv",
        "date_format,timezone,country,brand,store_id,manager\nDMY,Europe/London,GB,lakeside_home,S1,Ann\n",
    )
    drop(
        S,
        D,
        R,
        "currency,amount,marketing_optin_sms,marketing_optin_email,mobile,email,customer_id,txn_local_time,"
        "receipt_no,store_id,till\nGBP,3.50,,Y,,a@example.com,C1,03/02/2026 17:45,9,S1,4\n",
    )
    batch = read(S)
    assert batch.table("events").select("source_record_id", "contact_point", "brand").rows() == [
        ("S1:9", "a@example.com", "lakeside_home")
    ]
    assert accounted(batch) == {"stores.csv": (1, 0, 0), R: (1, 0, 0)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "stores.csv", stores(UK))
    drop(S, D, "z_report.csv", "x\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": (
            {"stores.csv": (1, 0, 0), "receipts_0001.csv": (1, 0, 1)},
            [(2, "bad_timestamp")],
        ),
        "formats_and_time": ({"stores.csv": (2, 0, 0), "receipts_0001.csv": (8, 0, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, reasons) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(set(batch.rejects.select("source_record", "reason").iter_rows())) == reasons, name
    batch = read_source(S, SCENARIOS / "formats_and_time" / "landing", rules)
    events = batch.table("events").filter(pl.col("channel") == "email")
    # the pos-* checks of formats_and_time/expect.yaml
    assert dict(events.select("contact_point", "event_ts").iter_rows()) == {
        "nora.ny@example.com": dt.datetime(2026, 3, 7, 19, 30),
        "ned.ny@example.com": dt.datetime(2026, 3, 9, 18, 30),
        "lottie.leeds@example.co.uk": dt.datetime(2026, 3, 28, 10),
        "bert.bst@example.co.uk": dt.datetime(2026, 3, 30, 9),
        "dot.dmy@example.co.uk": dt.datetime(2026, 2, 3, 17, 45),
        "mo.mdy@example.com": dt.datetime(2026, 3, 2, 14, 15),
        "nell.noundo@example.co.uk": dt.datetime(2026, 3, 10, 12),  # the later N decides nothing
    }
    assert batch.table("events").filter(pl.col("channel") == "sms").select(
        "contact_point", "brand", "purpose", "status", "event_ts"
    ).rows() == [("+447700900853", "lakeside_home", "marketing.offers", "opt_in", dt.datetime(2026, 3, 28, 10))]
