"""legacy connector: the legacy billing system's fixed-width flag files (feeds.md §10)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import LegacyPolicy
from consent_pipeline.core.ingest.ingest import read_source
from source_connectors import legacy
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "legacy"
D = "2026-02-20T020000Z"
F = "LEGACY_FLAGS_20260220.DAT"
DAY = dt.datetime(2026, 2, 10)
EVENT_COLS = (
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
)


def dtl(
    customer: str = "C1",
    flags: str = "NNNNN",
    date: str = "10022026",
    brand: str = "MOT",
    account: int = 2001,
    kind: str = "DTL",
) -> str:
    """One DTL record in the exact column layout (no line end)."""
    return f"{kind}{account:010d}{customer:<10}{flags}{date}{brand}"


def trl(count: int) -> str:
    return f"TRL{count:010d}"


def dat(*lines: str) -> str:
    """A file as the legacy system writes it: CRLF after every record."""
    return "".join(line + "\r\n" for line in lines)


def events(batch: Batch) -> list[tuple]:
    return batch.table("events").sort("source_record", "channel", "purpose").select(EVENT_COLS).rows()


def rejects(batch: Batch) -> list[tuple[int, str, str]]:
    return sorted(set(batch.rejects.select("source_record", "reason", "detail").iter_rows()))


def opt_out(record: int, channel: str, purpose: str, cp_type: str | None, customer: str = "C1") -> tuple:
    account = f"{2000 + record:010d}"
    return (
        record,
        account,
        customer,
        None,
        cp_type,
        channel,
        purpose,
        "lakeside_motors",
        "opt_out",
        "legacy_flag",
        DAY,
        False,
    )


def test_each_flag_is_a_party_level_opt_out_of_its_scope(drop, read):
    drop(
        S,
        D,
        F,
        dat(
            dtl(flags="YNNNN", account=2001),
            dtl(flags="NYNNN", account=2002),
            dtl(flags="NNYNN", account=2003),
            dtl(flags="NNNYN", account=2004),
            dtl(flags="NNNNY", account=2005),
            trl(5),
        ),
    )
    batch = read(S)
    assert events(batch) == [
        opt_out(1, "email", "*", "email"),  # NO_EMAIL: every purpose by email
        opt_out(2, "sms", "*", "phone"),  # NO_PHONE: calls and texts
        opt_out(2, "voice", "*", "phone"),
        opt_out(3, "door", "*", "postal"),  # NO_MAIL: post, and the door
        opt_out(3, "mail", "*", "postal"),
        opt_out(4, "*", "marketing", None),  # DPA_NO_MARKETING: marketing by any channel
        opt_out(5, "*", "marketing.service_reminders", None),  # DPA_NO_FOLLOWUP
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(6, "trailer")]
    assert batch.rejects.height == 0
    assert batch.table_names == ["events"]  # never a review
    assert accounted(batch) == {F: (5, 1, 0)}


def test_several_flags_on_one_record(drop, read):
    drop(S, D, F, dat(dtl(flags="YYNYN"), trl(1)))
    batch = read(S)
    assert events(batch) == [
        opt_out(1, "*", "marketing", None),
        opt_out(1, "email", "*", "email"),
        opt_out(1, "sms", "*", "phone"),
        opt_out(1, "voice", "*", "phone"),
    ]
    assert accounted(batch) == {F: (1, 1, 0)}


def test_no_flags_is_legitimate_interest_by_default(drop, read):
    drop(S, D, F, dat(dtl(customer="C77", flags="NNNNN", brand="ENE", date="01122025"), trl(1)))
    batch = read(S)
    assert events(batch) == [
        (
            1,
            "0000002001",
            "C77",
            None,
            None,
            "*",
            "marketing",
            "lakeside_energy",
            "opt_in",
            "legitimate_interest",
            dt.datetime(2025, 12, 1),
            False,
        )
    ]
    assert "reviews" not in batch.table_names
    assert accounted(batch) == {F: (1, 1, 0)}


def test_no_flags_under_no_consent_policy_is_skipped(rules: Rules, landing: Path):
    mine = copy.copy(rules)
    mine.policies = rules.policies.model_copy(update={"legacy": LegacyPolicy(no_flags="no_consent")})
    path = landing / S / D / F
    path.parent.mkdir(parents=True)
    path.write_text(dat(dtl(flags="NNNNN"), dtl(flags="YNNNN", account=2002), trl(2)))
    delivery = Delivery(S, D, dt.datetime(2026, 2, 20, 2), path.parent, landing)
    batch = legacy.parse(delivery, mine)
    assert batch.table("events").select("source_record", "channel", "status").rows() == [(2, "email", "opt_out")]
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (1, "no_flags"),
        (3, "trailer"),
    ]
    assert accounted(batch) == {F: (1, 2, 0)}


def test_brand_codes_from_rules_and_unknown_code(drop, read):
    drop(
        S,
        D,
        F,
        dat(
            dtl(flags="YNNNN", brand="ENE"),
            dtl(flags="YNNNN", brand="HOM"),
            dtl(flags="YNNNN", brand="MOT"),
            dtl(flags="YNNNN", brand="XYZ"),
            trl(4),
        ),
    )
    batch = read(S)
    assert batch.table("events").sort("source_record").select("source_record", "brand").rows() == [
        (1, "lakeside_energy"),
        (2, "lakeside_home"),
        (3, "lakeside_motors"),
    ]
    assert rejects(batch) == [(4, "unmapped_brand", "brand code: 'XYZ'")]
    assert accounted(batch) == {F: (3, 1, 1)}


def test_flag_date_is_day_precision_utc_and_impossible_date_rejected(drop, read):
    drop(
        S,
        D,
        F,
        dat(dtl(flags="YNNNN", date="15012026"), dtl(flags="YNNNN", date="31022026"), trl(2)),
    )
    batch = read(S)
    assert batch.table("events").select("source_record", "event_ts").rows() == [(1, dt.datetime(2026, 1, 15))]
    assert rejects(batch) == [(2, "bad_timestamp", "flag date: '31022026'")]
    assert accounted(batch) == {F: (1, 1, 1)}


def test_future_flag_date_is_quarantined_by_the_core(drop, read):
    drop(S, D, F, dat(dtl(flags="NYNNN", date="25022026"), trl(1)))
    batch = read(S)
    assert batch.table("events").height == 0
    assert {(r, reason) for r, reason, _ in rejects(batch)} == {(1, "future_timestamp")}
    assert accounted(batch) == {F: (0, 1, 1)}


def test_trailer_count_mismatch_rejects_every_record(drop, read):
    drop(S, D, F, dat(dtl(flags="YNNNN"), dtl(flags="YNNNN", account=2002), trl(3)))
    batch = read(S)
    assert batch.table("events").height == 0
    assert batch.skips.height == 0
    assert rejects(batch) == [
        (1, "trailer_mismatch", "trailer count 3, DTL records read 2"),
        (2, "trailer_mismatch", "trailer count 3, DTL records read 2"),
        (3, "trailer_mismatch", "trailer count 3, DTL records read 2"),
    ]
    # quarantine keeps each record's raw text, the trailer's too
    assert batch.rejects.sort("source_record")["raw"].to_list() == [
        dtl(flags="YNNNN"),
        dtl(flags="YNNNN", account=2002),
        trl(3),
    ]
    assert accounted(batch) == {F: (0, 0, 3)}


def test_missing_trailer_rejects_every_record(drop, read):
    drop(S, D, F, dat(dtl(flags="YNNNN"), dtl(flags="YNNNN", account=2002)))
    batch = read(S)
    assert batch.table("events").height == 0
    assert rejects(batch) == [
        (1, "trailer_mismatch", "no trailer record (2 DTL records read)"),
        (2, "trailer_mismatch", "no trailer record (2 DTL records read)"),
    ]
    assert accounted(batch) == {F: (0, 0, 2)}


def test_trailer_not_last_two_trailers_or_unreadable(drop, read):
    drop(S, D, "LEGACY_FLAGS_1.DAT", dat(dtl(flags="YNNNN"), trl(1), dtl(flags="YNNNN", account=2002)))
    drop(S, D, "LEGACY_FLAGS_2.DAT", dat(dtl(flags="YNNNN"), trl(1), trl(1)))
    drop(S, D, "LEGACY_FLAGS_3.DAT", dat(dtl(flags="YNNNN"), "TRL1"))
    batch = read(S)
    assert batch.table("events").height == 0
    details = dict(
        batch.rejects.select(pl.col("source_file").str.split("/").list.last(), "detail").unique().iter_rows()
    )
    assert details == {
        "LEGACY_FLAGS_1.DAT": "the trailer is record 2, not the last record",
        "LEGACY_FLAGS_2.DAT": "2 trailer records",
        "LEGACY_FLAGS_3.DAT": "unreadable trailer: 'TRL1'",
    }
    assert set(batch.rejects["reason"]) == {"trailer_mismatch"}
    assert accounted(batch) == {
        "LEGACY_FLAGS_1.DAT": (0, 0, 3),
        "LEGACY_FLAGS_2.DAT": (0, 0, 3),
        "LEGACY_FLAGS_3.DAT": (0, 0, 2),
    }


def test_bad_records_are_rejected_alone(drop, read):
    drop(
        S,
        D,
        F,
        dat(
            "HDR20260220",  # not a record type of the layout: not counted by the trailer
            dtl(flags="YNNNN")[:30],  # short
            dtl(flags="YNXNN"),  # NO_MAIL neither Y nor N
            dtl(flags="YN NN"),
            dtl(customer="", flags="YNNNN"),  # no subject
            dtl(flags="YNNNN") + "   ",  # padding past column 39 is fine
            dtl(flags="YNNNN") + "EXTRA",
            trl(6),
        ),
    )
    batch = read(S)
    assert batch.table("events").select("source_record", "channel").rows() == [(6, "email")]
    assert rejects(batch) == [
        (1, "bad_record", "record type: HDR"),
        (2, "bad_record", "30 characters, a DTL record has 39"),
        (3, "bad_record", "NO_MAIL: 'X'"),
        (4, "bad_record", "NO_MAIL: ' '"),
        (5, "missing_value", "customer_id (columns 14-23) is blank"),
        (7, "bad_record", "characters after column 39: EXTRA"),
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(8, "trailer")]
    assert accounted(batch) == {F: (1, 1, 6)}


def test_customer_id_is_trimmed_and_account_is_the_record_id(drop, read):
    drop(S, D, F, dat(dtl(customer="C12", flags="NNNYN", account=42), trl(1)))
    row = read(S).table("events").select("party_id", "source_record_id").row(0)
    assert row == ("C12", "0000000042")


def test_blank_lines_are_no_records_and_lf_line_ends_read(drop, read):
    drop(S, D, F, "\n" + dtl(flags="YNNNN") + "\n\n" + trl(1) + "\n\n")
    batch = read(S)
    assert batch.table("events").select("source_record", "channel").rows() == [(1, "email")]
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [(2, "trailer")]
    assert accounted(batch) == {F: (1, 1, 0)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "flags.txt", "DTL\r\n")
    drop(S, D, F, dat(dtl(flags="YNNNN"), trl(1)))
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]
    assert accounted(batch) == {F: (1, 1, 0), "flags.txt": (0, 0, 0)}


def test_public_scenarios(rules):
    expected = {
        "bad_input": (
            {"LEGACY_FLAGS_20260220_A.DAT": (2, 1, 0), "LEGACY_FLAGS_20260220_B.DAT": (0, 0, 3)},
            [(1, "trailer_mismatch"), (2, "trailer_mismatch"), (3, "trailer_mismatch")],
        ),
        "formats_and_time": ({"LEGACY_FLAGS_20260302.DAT": (1, 1, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, reasons) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(set(batch.rejects.select("source_record", "reason").iter_rows())) == reasons, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules).table("events")
    assert bad.filter(pl.col("party_id") == "C820003").select(
        "contact_point", "channel", "purpose", "brand", "status", "event_ts"
    ).rows() == [(None, "*", "marketing", "lakeside_motors", "opt_out", DAY)]
    good = read_source(S, SCENARIOS / "formats_and_time" / "landing", rules).table("events")
    assert good.select("party_id", "channel", "purpose", "brand", "status", "event_ts").rows() == [
        ("C850011", "email", "*", "lakeside_home", "opt_out", dt.datetime(2026, 1, 15))
    ]
