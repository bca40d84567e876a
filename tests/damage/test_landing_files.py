"""Files and deliveries (feeds.md "Real files are messy", issue 11 item 4), through real runs.

An unexpected file is quarantined, reported and read by the first later run whose rules name it; a file
whose bytes changed after it was read is found and only its restrictions are applied; a file that appears
late in a delivery is read; a delivery dated after the as-of waits for it; links and FIFOs are never
followed or opened. The landing_held_back warning check and `--strict` say what was held back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.faults import run_args
from tests.helpers import ROOT, rows, run, write

AS_OF = "2026-03-01T06:00:00Z"
HEADER = "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"


def msg(phone: str, body: str, sid: str, day: int = 12) -> str:
    return (
        f'{phone},+18885550100,{body},received,"Thu, {day} Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,{sid},inbound,,\n'
    )


def state(warehouse: Path, phone: str) -> list[tuple[object, ...]]:
    return rows(
        warehouse,
        "SELECT status FROM consent_current WHERE contact_point = ? AND purpose = 'marketing.offers'",
        [phone],
    )


def cli(landing: Path, warehouse: Path, *extra: str, rules: Path = ROOT / "rules", as_of: str = AS_OF):
    return subprocess.run(
        run_args(landing, warehouse, warehouse.parent / "x", as_of, *extra, rules=rules),
        capture_output=True,
        text=True,
        timeout=600,
    )


def report(warehouse: Path) -> list[tuple[object, ...]]:
    return rows(warehouse, "SELECT source_file, reason FROM landing_report ORDER BY 1, 2")


def test_an_unexpected_file_is_read_by_the_first_run_whose_rules_name_it(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "Messages-Export.csv",
        HEADER + msg("+14155550101", "STOP", "SM1"),
    )
    first = cli(landing, warehouse, "--strict")
    assert first.returncode == 3, first.stdout + first.stderr  # held back: --strict fails
    assert "held back:    1 files quarantined whole" in first.stdout
    f = "twilio_sms/2026-02-20T020000Z/Messages-Export.csv"
    assert report(warehouse) == [(f, "unexpected_file")]
    assert rows(warehouse, "SELECT rows_read, file_status FROM ingest_ledger WHERE source_file = ?", [f]) == [
        (0, "unexpected")
    ]
    assert state(warehouse, "+14155550101") == []

    # The company's rules learn the name: the next run reads the file, and its STOP applies.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    files = rules / "files.yaml"
    files.write_text(
        files.read_text().replace(
            'messages: ["messages_*.csv"]', 'messages: ["messages_*.csv", "Messages-Export*.csv"]'
        )
    )
    second = cli(landing, warehouse, "--strict", rules=rules)
    assert second.returncode == 0, second.stdout + second.stderr
    assert state(warehouse, "+14155550101") == [("opt_out",)]
    assert rows(
        warehouse,
        "SELECT rows_read, rows_accepted, file_status FROM ingest_ledger WHERE source_file = ?",
        [f],
    ) == [(1, 1, "read")]
    assert rows(warehouse, "SELECT count(*) FROM quarantine WHERE source_file = ?", [f]) == [(0,)]
    assert report(warehouse) == []


def test_a_changed_file_is_read_again_and_only_its_restrictions_apply(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    path = write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "messages_1.csv",
        HEADER + msg("+14155550111", "START", "SM1"),
    )
    run(landing, warehouse, AS_OF)
    # The file is rewritten in place: a STOP and a START appended.
    path.write_text(
        HEADER
        + msg("+14155550111", "START", "SM1")
        + msg("+14155550112", "STOP", "SM2")
        + msg("+14155550113", "START", "SM3")
    )
    outcome = run(landing, warehouse, AS_OF)
    f = "twilio_sms/2026-02-20T020000Z/messages_1.csv"
    ledger = rows(
        warehouse,
        "SELECT rows_read, rows_accepted, rows_duplicate, rows_quarantined, file_note FROM ingest_ledger"
        " WHERE source_file = ? ORDER BY ingested_at",
        [f],
    )
    assert ledger == [(1, 1, 0, 0, None), (3, 1, 1, 1, "changed")]
    assert state(warehouse, "+14155550112") == [("opt_out",)]  # the appended STOP applies
    assert state(warehouse, "+14155550113") == []  # the appended START does not
    # The appended START, and the appended STOP's proof that the phone works (it could clear an undeliverable
    # flag), are held; the STOP itself applies.
    assert rows(warehouse, "SELECT source_record, reason FROM quarantine WHERE source_file = ? ORDER BY 1", [f]) == [
        (2, "file_changed"),
        (3, "file_changed"),
    ]
    assert (f, "file_changed") in report(warehouse)
    assert ("ingest_ledger", "landing_held_back", False, "WARN") in outcome.checks


def test_a_late_file_in_a_delivery_read_before_is_read(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "messages_1.csv",
        HEADER + msg("+14155550121", "START", "SM1"),
    )
    run(landing, warehouse, AS_OF)
    write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "messages_2.csv",
        HEADER + msg("+14155550122", "STOP", "SM2"),
    )
    run(landing, warehouse, AS_OF)
    assert state(warehouse, "+14155550122") == [("opt_out",)]
    assert report(warehouse) == [("twilio_sms/2026-02-20T020000Z/messages_2.csv", "late_file")]


def test_a_delivery_dated_after_the_as_of_waits_for_it(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "messages_1.csv",
        HEADER + msg("+14155550131", "STOP", "SM1"),
    )
    # A folder from the future, with an opt-in dated after the STOP: it must not take effect yet.
    write(
        landing,
        "twilio_sms",
        "2026-03-05T020000Z",
        "messages_1.csv",
        HEADER + msg("+14155550131", "START", "SM2", 26),
    )
    held = cli(landing, warehouse, "--strict")
    assert held.returncode == 3
    assert "1 deliveries held" in held.stdout
    assert state(warehouse, "+14155550131") == [("opt_out",)]
    assert report(warehouse) == [("twilio_sms/2026-03-05T020000Z", "dated_after_as_of")]
    assert rows(warehouse, "SELECT count(*) FROM ingest_ledger WHERE delivery = '2026-03-05T020000Z'") == [(0,)]
    later = cli(landing, warehouse, as_of="2026-03-06T06:00:00Z")
    assert later.returncode == 0, later.stdout + later.stderr
    assert state(warehouse, "+14155550131") == [("opt_in",)]
    assert report(warehouse) == []


def test_links_and_fifos_in_the_landing_tree_are_never_followed_or_opened(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    good = write(
        landing,
        "twilio_sms",
        "2026-02-20T020000Z",
        "messages_1.csv",
        HEADER + msg("+14155550141", "STOP", "SM1"),
    )
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + msg("+14155550142", "STOP", "SM9") + "root:x:0:0:secret-words\n")
    (good.parent / "messages_2.csv").symlink_to(secret)
    os.mkfifo(good.parent / "messages_3.csv")
    (landing / "twilio_sms" / "2026-02-21T020000Z").symlink_to(good.parent, target_is_directory=True)
    result = cli(landing, warehouse)
    assert result.returncode == 0, result.stdout + result.stderr
    assert state(warehouse, "+14155550141") == [("opt_out",)]
    assert state(warehouse, "+14155550142") == []  # the link's target is never read
    assert report(warehouse) == [
        ("twilio_sms/2026-02-20T020000Z/messages_2.csv", "symlink"),
        ("twilio_sms/2026-02-20T020000Z/messages_3.csv", "not_a_file"),
        ("twilio_sms/2026-02-21T020000Z", "symlink"),
    ]
    assert rows(warehouse, "SELECT count(*) FROM quarantine WHERE raw LIKE '%secret-words%'") == [(0,)]
