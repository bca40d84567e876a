"""Bad numbers never poison a night: an amount the warehouse cannot hold (not finite, 10^13 or more, more than
two decimal places) is quarantined as bad_amount at ingest, whatever the source; and when a stage fails on
data already in the warehouse, the suppression lists still go out and the run fails (exit 1)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch
from tests.connectors.ledger import accounted, ingest
from tests.faults import check_folder, cli_run, error_line
from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import edit, rows, run, write

BAD = {
    "NaN": "NaN",
    "inf": "inf",
    "-Infinity": "-inf",
    "1e400": "inf",
    "1e17": "1e+17",
    "123456789012345678901234567890": "1.2345678901234568e+29",
    "10000000000000": "10000000000000.0",
    "12.345": "12.345",
}
GOOD = {"59.90": 59.9, "-0.5": -0.5, "9999999999999.99": 9999999999999.99, "0.1": 0.1}

POS_D = "2026-02-20T020000Z"
STORES = "store_id,brand,country,timezone,date_format\nS-UK-014,lakeside_home,GB,Europe/London,DMY\n"
RECEIPTS = (
    "store_id,receipt_no,txn_local_time,customer_id,email,mobile,marketing_optin_email,marketing_optin_sms,"
    "amount,currency\n"
)


def receipt(no: int, amount: str, opt_email: str = "") -> str:
    return f"S-UK-014,{no},03/02/2026 17:45,C1,ana.silva@example.co.uk,,{opt_email},,{amount},GBP\n"


def bad_amounts(batch: Batch) -> list[tuple[int, str]]:
    rejects = batch.rejects.filter(pl.col("reason") == "bad_amount")
    return sorted(rejects.select("source_record", "detail").iter_rows())


def test_pos_amounts_the_warehouse_cannot_hold_are_quarantined(drop, read, tmp_path: Path) -> None:
    amounts = [*BAD, *GOOD]
    drop("pos", POS_D, "stores.csv", STORES)
    body = "".join(receipt(i, a) for i, a in enumerate(amounts, 1))
    body += receipt(len(amounts) + 1, "1e17", opt_email="Y")  # a ticked box on a receipt with a bad amount
    drop("pos", POS_D, "receipts_1.csv", RECEIPTS + body)
    batch = read("pos")
    assert bad_amounts(batch) == sorted(
        [(i, detail) for i, detail in enumerate(BAD.values(), 1)] + [(len(amounts) + 1, "1e+17")]
    )
    kept = dict(batch.table("activity").select("source_record", "amount").iter_rows())
    assert kept == {i: GOOD[a] for i, a in enumerate(amounts, 1) if a in GOOD}
    # the opt-in of the last receipt stands: its record is accepted with a rejected part
    assert accounted(batch)["receipts_1.csv"] == (len(GOOD) + 1, 0, len(BAD))
    ledger, quarantine = ingest(batch, tmp_path)
    assert sorted(ledger) == [(1, 1, 0, 0, 0), (len(amounts) + 1, len(GOOD) + 1, 0, 0, len(BAD))]
    assert sum(1 for _, reason in quarantine if reason == "bad_amount") == len(BAD) + 1


def test_transaction_amounts_the_warehouse_cannot_hold_are_quarantined(drop, read) -> None:
    big = {
        "10000000000000000": "1e+16",
        "10000000000000000.00": "1e+16",
        "123456789012345678901234567890": "1.2345678901234568e+29",
        "12.345": "12.345",
    }
    header = "txn_id,customer_id,brand,txn_type,occurred_at,amount,currency\n"
    lines = [f"T{i},C1,lakeside_home,purchase,2026-02-10T16:00:00Z,{a},GBP\n" for i, a in enumerate(big, 1)]
    lines.append("T9,C1,lakeside_home,purchase,2026-02-10T16:00:00Z,75.00,GBP\n")
    drop("transactions", POS_D, "transactions_1.csv", header + "".join(lines))
    batch = read("transactions")
    assert bad_amounts(batch) == [(i, detail) for i, detail in enumerate(big.values(), 1)]
    assert batch.table("activity").select("activity_id", "amount").rows() == [("T9", 75.0)]
    assert accounted(batch)["transactions_1.csv"] == (1, 0, len(big))


TRANSACTIONS = (
    "txn_id,customer_id,brand,txn_type,occurred_at,amount,currency\n"
    + "".join(
        f"T{i},C1,lakeside_home,purchase,2026-0{m}-1{i}T10:00:00Z,25.00,GBP\n" for i, m in enumerate((1, 1, 2), 1)
    )
    + "T4,C2,lakeside_energy,purchase,2026-02-11T10:00:00Z,1e16,USD\n"
    + "T5,C2,lakeside_energy,purchase,2026-02-12T10:00:00Z,10000000000000000,USD\n"
)


def test_a_night_with_bad_amounts_in_the_feeds_writes_every_extract(tmp_path: Path) -> None:
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES)
    write(landing, "transactions", "2026-02-20T020000Z", "transactions_1.csv", TRANSACTIONS)
    write(landing, "pos", POS_D, "stores.csv", STORES)
    write(landing, "pos", POS_D, "receipts_1.csv", RECEIPTS + receipt(1, "NaN") + receipt(2, "1e400"))
    outcome = run(landing, warehouse, AS_OF, extracts=extracts)
    manifest = check_folder(extracts / "2026-03-01")
    assert manifest["run_id"] == outcome.run_id and "not_written" not in manifest
    assert rows(
        warehouse, "SELECT source, source_record, detail FROM quarantine WHERE reason = 'bad_amount' ORDER BY ALL"
    ) == [
        ("pos", 1, "NaN"),
        ("pos", 2, "inf"),
        ("transactions", 4, "amount: 1e16"),
        ("transactions", 5, "1e+16"),
    ]
    assert rows(warehouse, "SELECT segment FROM segments WHERE party_id = 'C1' AND brand = 'lakeside_home'") == [
        ("frequent_1",)
    ]


def test_a_stage_failing_on_warehouse_data_still_writes_the_suppression_lists(tmp_path: Path) -> None:
    """An amount already in the warehouse (from before amounts were checked) stops the segments: the
    suppression lists and the review queue still go out for tonight, the campaigns do not, and the run
    fails with one line saying so."""
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES[:6])
    write(landing, "transactions", "2026-02-20T020000Z", "transactions_1.csv", TRANSACTIONS)
    first = run(landing, warehouse, AS_OF, extracts=extracts)
    edit(warehouse, "UPDATE activity SET amount = 1e17 WHERE activity_id = 'T1'")
    land(landing, DELIVERIES[6:])

    got = cli_run(landing, warehouse, extracts, AS_OF, None, "--full-rebuild")
    assert got.returncode == 1
    folder = extracts / "2026-03-01"
    campaigns = [
        "energy_winter_offers",
        "energy_winback_sms",
        "home_spring_newsletter",
        "motors_service_reminder_call",
        "motors_offers_mail",
    ]
    line = error_line(got)
    assert line.startswith("segments could not be built: Conversion Error: ")
    assert line.endswith(
        "; not written: "
        + ", ".join(f"campaign_{c}.csv" for c in campaigns)
        + f"; the suppression lists were written to {folder}"
    )
    manifest = check_folder(folder)
    assert manifest["run_id"] != first.run_id  # tonight's lists, not yesterday's
    assert [f["name"] for f in manifest["files"]] == [
        *(f"suppression_{ch}.csv" for ch in ("email", "sms", "voice", "mail", "push", "door")),
        "review_queue.csv",
    ]
    assert [n["name"] for n in manifest["not_written"]] == [f"campaign_{c}.csv" for c in campaigns]
    assert " FAILED in " in got.stdout.splitlines()[0]
    assert f"    NOT WRITTEN campaign_{campaigns[0]}.csv: segments could not be built: Conversion Error" in got.stdout
    # the suppression table is tonight's too (the audit reads it)
    assert rows(warehouse, "SELECT count(*) FROM suppression") == [
        (sum(f["rows"] for f in manifest["files"] if f["name"].startswith("suppression_")),)
    ]
