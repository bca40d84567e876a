"""Which registry snapshot is in force (feeds.md §11): a damaged delivery, a re-dropped one or one that
un-lists too much never replaces it, and an operator can confirm a held one. Whole runs on real files and a
real DuckDB warehouse, delivery after delivery."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from consent_pipeline.run import RunOutcome
from tests.helpers import ROOT, rows, run, write

S = "dnc_registries"
CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,"
    "address_line1,city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    + "".join(
        f"C{n},,true,F{n},L{n},c{n}@example.com,{phone},,{n} Main St,Town,,1000,{country},customer,{brand},"
        "2021-03-04T10:00:00Z,2025-12-30T08:00:00Z\n"
        for n, phone, country, brand in (
            (1, "212-555-0101", "US", "lakeside_energy"),
            (2, "212-555-0102", "US", "lakeside_energy"),
            (3, "212-555-0103", "US", "lakeside_energy"),
            (4, "212-555-0104", "US", "lakeside_energy"),
            (5, "416-555-0105", "CA", "lakeside_energy"),
            (6, "07700 900106", "GB", "lakeside_motors"),
            (7, "07700 900107", "GB", "lakeside_motors"),
            (8, "0491 570 108", "AU", "lakeside_motors"),
        )
    )
)
PHONE = {
    1: "+12125550101",
    2: "+12125550102",
    3: "+12125550103",
    4: "+12125550104",
    5: "+14165550105",
    6: "+447700900106",
    7: "+447700900107",
    8: "+61491570108",
}
BRAND = {
    1: "lakeside_energy",
    2: "lakeside_energy",
    3: "lakeside_energy",
    4: "lakeside_energy",
    5: "lakeside_energy",
    6: "lakeside_motors",
    7: "lakeside_motors",
    8: "lakeside_motors",
}
CLI = Path(sys.executable).with_name("consent-pipeline")


def world(tmp_path: Path) -> tuple[Path, Path]:
    landing = tmp_path / "landing"
    write(landing, "customer_master", "2026-01-05T020000Z", "customers_export.csv", CUSTOMERS)
    return landing, tmp_path / "w" / "consent.duckdb"


def voice(warehouse: Path, party: int) -> tuple[str, str | None]:
    """The party's voice marketing permission: (reason, decided_by)."""
    found = rows(
        warehouse,
        "SELECT reason, decided_by FROM contact_permission WHERE contact_point = ? AND channel = 'voice'"
        " AND purpose = 'marketing.offers' AND brand = ?",
        [PHONE[party], BRAND[party]],
    )
    assert len(found) == 1, found
    reason, decided_by = found[0]
    assert isinstance(reason, str) and (decided_by is None or isinstance(decided_by, str)), found
    return reason, decided_by


def in_force(warehouse: Path, registry: str) -> tuple[str | None, dt.datetime | None, bool]:
    """The registry's snapshot in force: (delivery, snapshot time, fresh)."""
    found = rows(warehouse, "SELECT delivery, snapshot_ts, fresh FROM registry_status WHERE registry = ?", [registry])
    delivery, snapshot_ts, fresh = found[0]
    assert delivery is None or isinstance(delivery, str), found
    assert snapshot_ts is None or isinstance(snapshot_ts, dt.datetime), found
    assert isinstance(fresh, bool), found
    return delivery, snapshot_ts, fresh


def deliveries(warehouse: Path, registry: str) -> list[tuple[str, str, bool]]:
    """(delivery, status, pending) of every delivery of the registry."""
    found = rows(
        warehouse,
        "SELECT delivery, status, pending FROM registry_snapshot_status WHERE registry = ? ORDER BY delivery",
        [registry],
    )
    out: list[tuple[str, str, bool]] = []
    for delivery, status, pending in found:
        assert isinstance(delivery, str) and isinstance(status, str) and isinstance(pending, bool), found
        out.append((delivery, status, pending))
    return out


def held_warning(outcome: RunOutcome) -> bool:
    return ("registry_snapshot_status", "held_registry_snapshots") in [(a, c) for a, c, *_ in outcome.warnings]


def test_a_damaged_delivery_keeps_the_listing_and_freshness_in_force(tmp_path: Path) -> None:
    landing, wh = world(tmp_path)
    d1, d2 = "2026-02-01T030000Z", "2026-02-25T030000Z"
    write(landing, S, d1, "us_ftc/us_ftc_20260201.txt", "212,5550101\n212,5550102\n")
    write(landing, S, d1, "au_dncr/au_dncr_20260201.txt", "0491570108\n")
    write(landing, S, d1, "ca_dncl/ca_dncl_20260201.txt", "416,5550105\n")

    # The FTC's files for one delivery: one good (ten digits a line, adding 0104 and un-listing nobody), one
    # an error page saved as .txt, one an XML download. The AU answer is a cleaned list. The CA file is good
    # but for one line: a few bad lines are records, not a damaged file.
    write(landing, S, d2, "us_ftc/212.txt", "2125550101\n2125550102\n2125550104\n")
    write(landing, S, d2, "us_ftc/415.txt", "<html><body>503 Service Unavailable</body></html>\n")
    write(landing, S, d2, "us_ftc/dnc_list.xml", "<numbers><n>4155550134</n></numbers>\n")
    write(landing, S, d2, "au_dncr/wash_8812_cleaned.txt", "0491570109\n")
    write(landing, S, d2, "ca_dncl/ca_dncl_20260225.txt", "n/a\n416,5550105\n")
    second = run(landing, wh, "2026-02-26T06:00:00Z")
    assert voice(wh, 1) == ("dnc_registry", f"registry:us_ftc/{d1}")
    assert voice(wh, 4)[0] == "opt_out_model"  # nobody listed from the damaged delivery
    assert voice(wh, 8)[0] == "dnc_registry"
    assert in_force(wh, "us_ftc") == (d1, dt.datetime(2026, 2, 1, 3), True)
    assert in_force(wh, "au_dncr")[0] == d1
    assert in_force(wh, "ca_dncl")[0] == d2
    assert deliveries(wh, "us_ftc") == [(d1, "first", False), (d2, "damaged", True)]
    assert deliveries(wh, "au_dncr") == [(d1, "first", False), (d2, "damaged", True)]
    assert deliveries(wh, "ca_dncl") == [(d1, "first", False), (d2, "applied", False)]
    assert rows(wh, "SELECT detail FROM registry_snapshot_status WHERE registry = 'us_ftc' AND delivery = ?", [d2]) == [
        ("2 of 3 files not read whole (unexpected_file): the snapshot in force stays, with its freshness",)
    ]
    assert sorted(
        rows(wh, "SELECT source_file, reason FROM quarantine WHERE source_record IS NULL AND delivery = ?", [d2])
    ) == [
        (f"{S}/{d2}/au_dncr/wash_8812_cleaned.txt", "unsupported_wash_answer"),
        (f"{S}/{d2}/us_ftc/415.txt", "unreadable_file"),
        (f"{S}/{d2}/us_ftc/dnc_list.xml", "unexpected_file"),
    ]
    assert held_warning(second)
    assert "2 new deliveries not applied (damaged, re-dropped or held" in second.summary()

    # The damaged delivery refreshed nothing: the FTC's snapshot in force is from 1 February, 31 days and
    # 3 hours old on 4 March; Australia's is past its 30 days. Canada's (25 February) is fresh.
    run(landing, wh, "2026-03-04T06:00:00Z")
    assert voice(wh, 1)[0] == voice(wh, 4)[0] == "registry_stale"
    assert voice(wh, 8)[0] == "registry_stale"
    assert voice(wh, 5)[0] == "dnc_registry"


def test_a_redropped_delivery_refreshes_nothing(tmp_path: Path) -> None:
    landing, wh = world(tmp_path)
    d1, d2, d3, d4 = "2026-02-01T030000Z", "2026-02-15T030000Z", "2026-03-10T030000Z", "2026-03-18T030000Z"
    write(landing, S, d1, "us_ftc/us_ftc_20260201.txt", "212,5550101\n212,5550102\n212,5550103\n")
    write(landing, S, d2, "us_ftc/us_ftc_20260215.txt", "212,5550101\n212,5550103\n")
    # The 1 February delivery copied into a new folder, unchanged.
    shutil.copytree(landing / S / d1, landing / S / d3)
    outcome = run(landing, wh, "2026-03-12T06:00:00Z")
    assert in_force(wh, "us_ftc") == (d2, dt.datetime(2026, 2, 15, 3), True)
    assert voice(wh, 2)[0] == "opt_out_model"  # its old listing does not come back
    assert voice(wh, 1) == ("dnc_registry", f"registry:us_ftc/{d2}")
    assert rows(
        wh, "SELECT repeat_of, detail FROM registry_snapshot_status WHERE registry = 'us_ftc' AND delivery = ?", [d3]
    ) == [(d1, f"the same files as {d1}: refreshes nothing")]
    assert held_warning(outcome)
    assert rows(
        wh,
        "SELECT since FROM suppression WHERE contact_point = ? AND channel = 'voice' AND reason = 'dnc_registry'"
        " LIMIT 1",
        [PHONE[1]],
    ) == [(dt.datetime(2026, 2, 15, 3),)]

    # ... and the snapshot in force dropped again: still 15 February's, 32 days old on 19 March.
    shutil.copytree(landing / S / d2, landing / S / d4)
    run(landing, wh, "2026-03-19T06:00:00Z")
    assert deliveries(wh, "us_ftc") == [
        (d1, "first", False),
        (d2, "applied", False),
        (d3, "repeat", True),
        (d4, "repeat", True),
    ]
    assert in_force(wh, "us_ftc") == (d2, dt.datetime(2026, 2, 15, 3), False)
    us_phone_marketing = rows(
        wh,
        "SELECT reason, count(*) FROM contact_permission WHERE region = 'US' AND channel IN ('voice', 'sms')"
        " AND purpose LIKE 'marketing.%' GROUP BY reason",
    )
    assert us_phone_marketing == [("registry_stale", us_phone_marketing[0][1])]


def test_an_unlisting_snapshot_is_held_until_an_operator_confirms_it(tmp_path: Path) -> None:
    landing, wh = world(tmp_path)
    d1, d2, d3 = "2026-02-01T030000Z", "2026-02-10T030000Z", "2026-02-12T030000Z"
    d4, d5 = "2026-02-20T030000Z", "2026-02-24T030000Z"
    write(landing, S, d1, "us_ftc/a.txt", "212,5550101\n212,5550102\n212,5550103\n212,5550104\n")
    write(landing, S, d1, "ca_dncl/ca.txt", "")  # a registry's first snapshot is never held, empty or not
    # Un-lists three of the four numbers in force: held. The next one un-lists nothing of the held one but
    # three of the four in force: held too.
    write(landing, S, d2, "us_ftc/b.txt", "212,5550101\n")
    write(landing, S, d3, "us_ftc/c.txt", "212,5550101\n212,5550190\n212,5550191\n")
    outcome = run(landing, wh, "2026-02-13T06:00:00Z")
    assert deliveries(wh, "ca_dncl") == [(d1, "first", False)]
    assert in_force(wh, "ca_dncl") == (d1, dt.datetime(2026, 2, 1, 3), True)
    assert in_force(wh, "us_ftc")[0] == d1
    assert voice(wh, 2) == ("dnc_registry", f"registry:us_ftc/{d1}")
    assert deliveries(wh, "us_ftc") == [(d1, "first", False), (d2, "held", True), (d3, "held", True)]
    assert rows(wh, "SELECT baseline, unlisted, detail FROM registry_snapshot_status WHERE delivery = ?", [d3]) == [
        (d1, 3, f"would un-list 3 of the 4 numbers of {d1} (more than the share 0.5): awaiting confirmation")
    ]
    assert held_warning(outcome)

    # Un-lists one of four: applied. Then an empty file: un-lists everyone, held.
    write(landing, S, d4, "us_ftc/d.txt", "2125550101\n2125550102\n2125550103\n2125550190\n")
    write(landing, S, d5, "us_ftc/e.txt", "")
    run(landing, wh, "2026-02-25T06:00:00Z")
    assert in_force(wh, "us_ftc")[0] == d4
    assert voice(wh, 4)[0] == "opt_out_model"
    assert voice(wh, 2)[0] == "dnc_registry"
    assert [(d, st, p) for d, st, p in deliveries(wh, "us_ftc") if p] == [(d5, "held", True)]

    # The operator confirms the empty snapshot (and, by mistake, one that is not held).
    bad = subprocess.run(
        [str(CLI), "run", "--landing", str(landing), "--warehouse", str(wh), "--confirm-registry-snapshot", "us_ftc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "expected REGISTRY/DELIVERY" in bad.stderr
    cli = subprocess.run(
        [
            str(CLI),
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(wh),
            "--extracts",
            str(tmp_path / "x"),
            "--rules",
            str(ROOT / "rules"),
            "--as-of",
            "2026-02-26T06:00:00Z",
            "--quiet",
            "--confirm-registry-snapshot",
            f"us_ftc/{d5}",
            "--confirm-registry-snapshot",
            f"us_ftc/{d4}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "0 new deliveries not applied" in cli.stdout
    assert in_force(wh, "us_ftc") == (d5, dt.datetime(2026, 2, 24, 3), True)
    assert voice(wh, 1)[0] == voice(wh, 2)[0] == "opt_out_model"
    assert rows(
        wh, "SELECT registry, delivery, requested_at, effective, outcome FROM registry_confirmations ORDER BY 2"
    ) == [
        ("us_ftc", d4, dt.datetime(2026, 2, 26, 6), False, "not held (applied): nothing to confirm"),
        ("us_ftc", d5, dt.datetime(2026, 2, 26, 6), True, "confirmed: the held snapshot is applied"),
    ]
    assert deliveries(wh, "us_ftc")[-1] == (d5, "confirmed", False)

    # The confirmation stays on record: later runs keep the confirmed snapshot in force.
    run(landing, wh, "2026-02-27T06:00:00Z")
    assert in_force(wh, "us_ftc")[0] == d5


def test_corporate_tps_lists_gb_numbers_and_must_stay_fresh(tmp_path: Path) -> None:
    landing, wh = world(tmp_path)
    d0, d1, d2 = "2026-02-10T030000Z", "2026-02-20T030000Z", "2026-03-15T030000Z"
    # GB needs no Corporate TPS until one is delivered; a damaged first one counts as delivered (stale).
    write(landing, S, d0, "uk_tps/tps_20260210.txt", "07700 900106\n")
    write(landing, S, d0, "uk_ctps/ctps_20260210.txt", "<html>Session expired</html>\n")
    run(landing, wh, "2026-02-11T06:00:00Z")
    assert in_force(wh, "uk_tps")[2] is True
    assert in_force(wh, "uk_ctps") == (None, None, False)
    assert voice(wh, 6)[0] == voice(wh, 7)[0] == "registry_stale"

    write(landing, S, d1, "uk_tps/tps_20260220.txt", "07700 900106\n")
    write(landing, S, d1, "uk_ctps/ctps_20260220.txt", "07700900107 \n")
    run(landing, wh, "2026-02-21T06:00:00Z")
    assert voice(wh, 6) == ("dnc_registry", f"registry:uk_tps/{d1}")
    assert voice(wh, 7) == ("dnc_registry", f"registry:uk_ctps/{d1}")

    # A new TPS snapshot, but the Corporate TPS one is 29 days old on 21 March (limit 28): GB is stale.
    # (the same numbers as before, in a file with a new name: a new download, not a re-drop)
    write(landing, S, d2, "uk_tps/tps_20260315.txt", "07700 900106\n")
    run(landing, wh, "2026-03-21T06:00:00Z")
    assert in_force(wh, "uk_tps") == (d2, dt.datetime(2026, 3, 15, 3), True)
    assert in_force(wh, "uk_ctps")[2] is False
    assert voice(wh, 6)[0] == voice(wh, 7)[0] == "registry_stale"
