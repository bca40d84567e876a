"""dnc_registries connector: national do-not-call registry snapshots (feeds.md §11)."""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "dnc_registries"
D = "2026-02-26T030000Z"
AT = dt.datetime(2026, 2, 26, 3)


def listings(batch: Batch) -> list[tuple[str, int, str]]:
    return sorted(batch.table("registry_listings").select("registry", "source_record", "contact_point").rows())


def snapshots(batch: Batch) -> list[tuple[str, str, dt.datetime, int]]:
    return sorted(batch.table("registry_snapshots").select("registry", "country", "snapshot_ts", "listed").rows())


def test_area_code_number_layout_is_parsed_with_the_registry_country(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "415,5550134\n212 , 5550141\r\n")
    drop(S, D, "ca_dncl/ca_dncl_20260226.txt", "416,5550123\n")
    batch = read(S)
    assert listings(batch) == [
        ("ca_dncl", 1, "+14165550123"),
        ("us_ftc", 1, "+14155550134"),
        ("us_ftc", 2, "+12125550141"),
    ]
    row = batch.table("registry_listings").row(0, named=True)
    assert (row["contact_point_type"], row["snapshot_ts"], row["received_ts"]) == ("phone", AT, AT)
    assert row["source_file"] == f"{S}/{D}/us_ftc/us_ftc_20260226.txt"
    assert snapshots(batch) == [("ca_dncl", "CA", AT, 1), ("us_ftc", "US", AT, 2)]
    assert batch.table("registry_snapshots")["source_record"].to_list() == [None, None]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"us_ftc_20260226.txt": (2, 0, 0), "ca_dncl_20260226.txt": (1, 0, 0)}


def test_ftc_files_of_ten_digits_a_line(drop, read):
    # The FTC's download: one file per area code, ten digits a line, beside the `area code,number` layout.
    drop(S, D, "us_ftc/212.txt", "2125550141\r\n2125550142\r\n\r\n")
    drop(S, D, "us_ftc/415.txt", "4155550134\n415555013\n415,5550135\n")
    batch = read(S)
    assert listings(batch) == [
        ("us_ftc", 1, "+12125550141"),
        ("us_ftc", 1, "+14155550134"),
        ("us_ftc", 2, "+12125550142"),
        ("us_ftc", 3, "+14155550135"),
    ]
    assert batch.rejects.select("source_file", "source_record", "reason").rows() == [
        (f"{S}/{D}/us_ftc/415.txt", 2, "bad_registry_line")  # nine digits: neither layout
    ]
    assert snapshots(batch) == [("us_ftc", "US", AT, 2), ("us_ftc", "US", AT, 3)]
    assert accounted(batch) == {"212.txt": (2, 0, 0), "415.txt": (2, 0, 1)}


def test_corporate_tps_is_read_like_tps_for_gb(drop, read):
    drop(S, D, "uk_ctps/ctps_20260226.txt", "0207 3787244\n01134960001 \n")
    batch = read(S)
    assert listings(batch) == [("uk_ctps", 1, "+442073787244"), ("uk_ctps", 2, "+441134960001")]
    assert snapshots(batch) == [("uk_ctps", "GB", AT, 2)]


def test_au_wash_answer_with_results(drop, read):
    # The whole submitted list with its result, header in any case: Registered is listed, Not Registered is
    # recognised as no listing (skipped), anything else is a bad line.
    drop(
        S,
        D,
        "au_dncr/WashResult_81723.csv",
        '\n NUMBER , result \r\n0412345678,Registered\r\n"0491 570 159",not registered\r\n'
        "0491570006, REGISTERED \r\n0491570007,Pending\r\n0491570008\r\n",
    )
    batch = read(S)
    assert listings(batch) == [("au_dncr", 1, "+61412345678"), ("au_dncr", 3, "+61491570006")]
    assert batch.skips.select("source_record", "reason").rows() == [(2, "not_registered")]
    assert sorted(batch.rejects.select("source_record", "reason", "detail").rows()) == [
        (4, "bad_registry_line", "au_dncr wash answer: unknown result 'pending'"),
        (5, "bad_registry_line", "au_dncr wash answer row: 0491570008"),
    ]
    assert snapshots(batch) == [("au_dncr", "AU", AT, 5)]  # the header is no record
    assert accounted(batch) == {"WashResult_81723.csv": (2, 1, 2)}


def test_au_wash_answer_all_not_registered_is_a_snapshot_listing_nobody(drop, read):
    drop(S, D, "au_dncr/wash.csv", "Number,Result\n0412345678,Not Registered\n")
    batch = read(S)
    assert batch.table("registry_listings").height == 0
    assert snapshots(batch) == [("au_dncr", "AU", AT, 1)]
    assert batch.rejects.height == 0


def test_au_cleaned_list_is_quarantined_whole(drop, read):
    # The submitted list minus the registered numbers looks like a list of registered numbers: never read.
    drop(S, D, "au_dncr/wash_81723_cleaned.txt", "0412345678\n0491570159\n")
    drop(S, D, "au_dncr/Wash_81724_NOT_REGISTERED.csv", "Number,Result\n0412345679,Not Registered\n")
    batch = read(S)
    assert batch.table("registry_listings").height == 0
    assert batch.table("registry_snapshots").height == 0
    rows = sorted(batch.rejects.select("source_file", "source_record", "reason", "raw").rows(), key=str)
    cleaned, other = f"{S}/{D}/au_dncr/wash_81723_cleaned.txt", f"{S}/{D}/au_dncr/Wash_81724_NOT_REGISTERED.csv"
    assert rows == sorted(
        [
            (cleaned, 1, "unsupported_wash_answer", "0412345678"),
            (cleaned, 2, "unsupported_wash_answer", "0491570159"),
            (cleaned, None, "unsupported_wash_answer", cleaned),
            (other, 1, "unsupported_wash_answer", "0412345679,Not Registered"),
            (other, None, "unsupported_wash_answer", other),
        ],
        key=str,
    )
    assert accounted(batch) == {"wash_81723_cleaned.txt": (0, 0, 2), "Wash_81724_NOT_REGISTERED.csv": (0, 0, 1)}


def test_xml_downloads_are_quarantined_file_by_file(drop, read):
    xml = '<?xml version="1.0"?>\n<numbers>\n  <number>4155550134</number>\n</numbers>\n'
    drop(S, D, "us_ftc/dnc_415.xml", xml)  # not a file the registry delivers
    drop(S, D, "us_ftc/dnc_212.txt", xml)  # an XML download saved as .txt: no line fits
    drop(S, D, "ca_dncl/dncl.txt", "416,5550123\n")
    batch = read(S)
    assert listings(batch) == [("ca_dncl", 1, "+14165550123")]
    assert snapshots(batch) == [("ca_dncl", "CA", AT, 1)]
    file_level = batch.rejects.filter(pl.col("source_record").is_null())
    assert sorted(file_level.select("source_file", "reason").rows()) == [
        (f"{S}/{D}/us_ftc/dnc_212.txt", "unreadable_file"),
        (f"{S}/{D}/us_ftc/dnc_415.xml", "unexpected_file"),
    ]
    assert accounted(batch)["dnc_212.txt"] == (0, 0, 4)


def test_file_sha256_is_the_files_bytes(drop, read):
    path = drop(S, D, "us_ftc/us_ftc_20260226.txt", "415,5550134\n")
    batch = read(S)
    assert batch.table("registry_snapshots")["file_sha256"].to_list() == [hashlib.sha256(path.read_bytes()).hexdigest()]


def test_national_layout(drop, read):
    drop(S, D, "au_dncr/au_dncr_20260226.txt", "0412345678\n 0491 570 159 \n(02) 9999 0000\n")
    batch = read(S)
    assert listings(batch) == [("au_dncr", 1, "+61412345678"), ("au_dncr", 2, "+61491570159")]
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (3, "bad_registry_line", "au_dncr line (national): (02) 9999 0000")
    ]
    assert snapshots(batch) == [("au_dncr", "AU", AT, 3)]
    assert accounted(batch) == {"au_dncr_20260226.txt": (2, 0, 1)}


def test_uk_fixed_width_both_forms(drop, read):
    lines = [
        "0207 3787244",  # dialling code in 5, the rest right-justified in 7
        "07700 900321",
        "0113  496000",
        "01134960001 ",  # the whole number left-justified in 12
        "07700900322",  # ... its trailing padding stripped by an editor
        "020 7378 7245",  # 13 characters: not the layout
        " 02073787246",  # a whole number that is not left-justified
    ]
    drop(S, D, "uk_tps/uk_tps_20260226.txt", "\n".join(lines) + "\n")
    batch = read(S)
    assert listings(batch) == [
        ("uk_tps", 1, "+442073787244"),
        ("uk_tps", 2, "+447700900321"),
        ("uk_tps", 3, "+44113496000"),
        ("uk_tps", 4, "+441134960001"),
        ("uk_tps", 5, "+447700900322"),
    ]
    assert sorted(batch.rejects.select("source_record", "reason").rows()) == [
        (6, "bad_registry_line"),
        (7, "bad_registry_line"),
    ]
    assert accounted(batch) == {"uk_tps_20260226.txt": (5, 0, 2)}


def test_code_field_must_be_left_justified_in_five(drop, read):
    drop(S, D, "uk_tps/uk_tps_20260226.txt", "020  7378724\n02 073787244\n")
    batch = read(S)
    # `020  7378724`: code `020  ` then rest `7378724`; `02 073787244`: the code field `02 07` holds a gap
    assert listings(batch) == [("uk_tps", 1, "+44207378724")]
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (2, "bad_registry_line", "uk_tps line (national_fixed_width): 02 073787244")
    ]


def test_unreadable_line_and_impossible_number(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "202,5550100\nn/a\n415,55\n415;5550134\n")
    batch = read(S)
    assert listings(batch) == [("us_ftc", 1, "+12025550100")]
    rejects = batch.rejects.sort("source_record")
    assert rejects.select("source_record", "reason", "detail", "raw").rows() == [
        (2, "bad_registry_line", "us_ftc line (area_code_number): n/a", "n/a"),
        (3, "invalid_phone", "41555", "415,55"),  # fits the layout; the core finds it impossible
        (4, "bad_registry_line", "us_ftc line (area_code_number): 415;5550134", "415;5550134"),
    ]
    # the snapshot counts the file's lines, read or not
    assert snapshots(batch) == [("us_ftc", "US", AT, 4)]
    assert accounted(batch) == {"us_ftc_20260226.txt": (1, 0, 3)}


def test_empty_file_is_a_snapshot_listing_nothing(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "")
    drop(S, D, "au_dncr/au_dncr_20260226.txt", "\n")
    batch = read(S)
    assert batch.table("registry_listings").height == 0
    assert snapshots(batch) == [("au_dncr", "AU", AT, 0), ("us_ftc", "US", AT, 0)]
    assert sorted(batch.files.select("source_file", "rows_read").rows()) == [
        (f"{S}/{D}/au_dncr/au_dncr_20260226.txt", 0),
        (f"{S}/{D}/us_ftc/us_ftc_20260226.txt", 0),
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"us_ftc_20260226.txt": (0, 0, 0), "au_dncr_20260226.txt": (0, 0, 0)}


def test_blank_lines_are_not_records(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "\n202,5550100\n\n   \n415,5550134\n\n")
    batch = read(S)
    assert listings(batch) == [("us_ftc", 1, "+12025550100"), ("us_ftc", 2, "+14155550134")]
    assert batch.files["rows_read"].to_list() == [2]
    assert snapshots(batch) == [("us_ftc", "US", AT, 2)]
    assert accounted(batch) == {"us_ftc_20260226.txt": (2, 0, 0)}


def test_a_file_with_no_readable_line_is_no_snapshot(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "<html>\n<body>Service unavailable</body>\n")
    batch = read(S)
    assert batch.table("registry_snapshots").height == 0
    # each line, and the file as a file: that is what holds the registry's snapshot of this delivery
    assert sorted(batch.rejects.select("source_record", "reason").rows(), key=str) == [
        (1, "bad_registry_line"),
        (2, "bad_registry_line"),
        (None, "unreadable_file"),
    ]
    assert accounted(batch) == {"us_ftc_20260226.txt": (0, 0, 2)}


def test_unknown_registry_and_stray_files_are_unexpected(drop, read):
    drop(S, D, "us_ftc/us_ftc_20260226.txt", "202,5550100\n")
    drop(S, D, "nz_dnc/nz_dnc_20260226.txt", "021 123 4567\n")
    drop(S, D, "us_ftc/readme.pdf", "x")
    drop(S, D, "us_ftc_20260226.txt", "202,5550100\n")
    batch = read(S)
    assert listings(batch) == [("us_ftc", 1, "+12025550100")]
    assert sorted(batch.rejects.select("source_file", "source_record", "reason").rows()) == [
        (f"{S}/{D}/nz_dnc/nz_dnc_20260226.txt", None, "unexpected_file"),
        (f"{S}/{D}/us_ftc/readme.pdf", None, "unexpected_file"),
        (f"{S}/{D}/us_ftc_20260226.txt", None, "unexpected_file"),
    ]
    # Unexpected files have a ledger row of no records (they are read once the rules name them).
    assert accounted(batch) == {
        "us_ftc_20260226.txt": (1, 0, 0),
        "nz_dnc_20260226.txt": (0, 0, 0),
        "readme.pdf": (0, 0, 0),
    }


def test_windows_1252_line_is_flagged(drop, read):
    drop(S, D, "au_dncr/au_dncr_20260226.txt", b"0412345678\n04\x81 2345679\n")
    batch = read(S)
    assert listings(batch) == [("au_dncr", 1, "+61412345678")]
    assert sorted(batch.rejects.select("source_record", "reason").rows()) == [
        (2, "bad_registry_line"),
        (2, "undecodable_characters"),
    ]
    assert accounted(batch) == {"au_dncr_20260226.txt": (1, 0, 1)}


def test_public_scenarios(rules):
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert len(have) == 10
    for name in have:
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert batch.rejects.filter(pl.col("reason") != "bad_registry_line").height == 0, name
        assert {r for r, *_ in snapshots(batch)} <= {"us_ftc", "ca_dncl", "uk_tps", "au_dncr"}, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert bad.rejects.select("source_record", "reason", "raw").rows() == [(3, "bad_registry_line", "n/a")]
    assert accounted(bad)["us_ftc_20260220.txt"] == (2, 0, 1)
    assert ("us_ftc", 2, "+14155550185") in listings(bad)
    registry = read_source(S, SCENARIOS / "registry" / "landing", rules)
    assert listings(registry) == [
        ("au_dncr", 1, "+61491570006"),
        ("au_dncr", 2, "+61491570159"),
        ("uk_tps", 1, "+441134960000"),
        ("uk_tps", 2, "+447700900321"),
        ("us_ftc", 1, "+12025550100"),
        ("us_ftc", 2, "+12125550141"),
        ("us_ftc", 3, "+12125550142"),
    ]
    assert snapshots(registry) == [
        ("au_dncr", "AU", AT, 2),
        ("uk_tps", "GB", dt.datetime(2026, 1, 20, 3), 2),
        ("us_ftc", "US", AT, 3),
    ]
    empty = read_source(S, SCENARIOS / "sms_keywords" / "landing", rules)
    assert snapshots(empty) == [
        ("au_dncr", "AU", AT, 0),
        ("ca_dncl", "CA", AT, 0),
        ("uk_tps", "GB", AT, 0),
        ("us_ftc", "US", AT, 0),
    ]
    assert empty.table("registry_listings").height == 0
