"""customer_master connector: CRM export rows to customer records (feeds.md §1)."""

from __future__ import annotations

import datetime as dt

import polars as pl

HEADER = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,"
    "address_line1,city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
)
D = "2026-02-20T020000Z"


def test_rows_become_normalised_customer_records(drop, read):
    drop(
        "customer_master",
        D,
        "customers_1.csv",
        HEADER + "C1,H1,true,Ana,Silva,Ana.Silva@Example.com ,(415) 555-0134,415-555-0199,12 Bay  St,San Francisco,CA,"
        "94107,US,customer,lakeside_energy;lakeside_home,2019-04-02T10:11:12Z,2026-02-19T08:00:00Z\n",
    )
    batch = read("customer_master")
    row = batch.table("customer_records").row(0, named=True)
    assert row["customer_id"] == "C1"
    assert row["email"] == "ana.silva@example.com"
    assert row["mobile_phone"] == "+14155550134"
    assert row["home_phone"] == "+14155550199"
    assert row["postal_address"] == "12 BAY ST, SAN FRANCISCO, 94107, US"
    assert row["is_primary_holder"] is True
    assert row["brands"] == "lakeside_energy;lakeside_home"
    assert row["updated_at"] == dt.datetime(2026, 2, 19, 8)
    assert row["received_ts"] == dt.datetime(2026, 2, 20, 2)
    assert row["source_file"] == f"customer_master/{D}/customers_1.csv"
    assert batch.rejects.height == 0


def test_bad_phone_is_a_rejected_part_and_short_row_is_quarantined(drop, read):
    drop(
        "customer_master",
        D,
        "customers_1.csv",
        HEADER
        + "C6,,true,Gil,Bad,gil@example.co.uk,call reception,,6 Mill Lane,Leeds,,LS1 4AB,GB,customer,lakeside_home,"
        "2021-03-04T10:00:00Z,2025-12-30T08:00:00Z\n" + "C9,,true,Broken,Row\n",
    )
    batch = read("customer_master")
    records = batch.table("customer_records")
    assert records["customer_id"].to_list() == ["C6"]
    assert records["mobile_phone"].to_list() == [None]
    rejects = batch.rejects.sort("source_record")
    assert rejects.select("source_record", "reason").rows() == [(1, "invalid_phone"), (2, "malformed_row")]
    assert rejects["raw"][1] == "C9,,true,Broken,Row"


def test_phones_with_letters_and_idn_emails(drop, read):
    drop(
        "customer_master",
        D,
        "customers_1.csv",
        HEADER + "C7,,true,Hal,Vanity,Hal@XN--BCHER-KVA.DE,07700 900ABC,020 7946 0201 ext 12,,,,,GB,customer,"
        "lakeside_home,2021-03-04T10:00:00Z,2025-12-30T08:00:00Z\n",
    )
    batch = read("customer_master")
    assert batch.table("customer_records").select("email", "mobile_phone", "home_phone").rows() == [
        ("hal@b\u00fccher.de", None, None)
    ]
    assert sorted(batch.rejects.select("reason", "detail").rows()) == [
        ("invalid_phone", "020 7946 0201 ext 12"),
        ("invalid_phone", "07700 900ABC"),
    ]


def test_columns_by_name_bom_and_extra_columns(drop, read):
    drop(
        "customer_master",
        D,
        "customers_1.csv",
        b"\xef\xbb\xbfupdated_at,crm_score,customer_id,customer_type,country,email\r\n"
        b"2025-12-30T08:00:00Z,99,C7,prospect,GB,x@example.co.uk\r\n",
    )
    batch = read("customer_master")
    row = batch.table("customer_records").row(0, named=True)
    assert (row["customer_id"], row["customer_type"], row["email"]) == ("C7", "prospect", "x@example.co.uk")


def test_missing_required_column_quarantines_every_record(drop, read):
    drop("customer_master", D, "customers_1.csv", "customer_id,email\nC1,a@example.com\nC2,b@example.com\n")
    batch = read("customer_master")
    assert batch.table("customer_records").height == 0
    assert batch.rejects["reason"].to_list() == ["missing_column", "missing_column"]
    assert batch.files["rows_read"].to_list() == [2]


def test_windows_1252_file_is_read(drop, read):
    content = HEADER + "C8,,true,Zoë,Brontë,zoe@example.co.uk,,,,,,,GB,customer,lakeside_home,,2025-12-30T08:00:00Z\n"
    drop("customer_master", D, "customers_1.csv", content.encode("cp1252"))
    batch = read("customer_master")
    assert batch.table("customer_records")["first_name"].to_list() == ["Zoë"]
    assert batch.rejects.height == 0


def test_future_updated_at_is_quarantined(drop, read):
    drop(
        "customer_master",
        D,
        "customers_1.csv",
        HEADER + "C5,,true,A,B,a@example.com,,,,,,,US,customer,lakeside_energy,,2026-02-22T08:00:00Z\n",
    )
    batch = read("customer_master")
    assert batch.table("customer_records").height == 0
    assert batch.rejects["reason"].to_list() == ["future_timestamp"]
    assert isinstance(batch.rejects["raw"][0], str)
    assert pl.Series(batch.files["rows_read"]).to_list() == [1]
