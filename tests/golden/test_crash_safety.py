"""A run killed while it writes the golden tables leaves the last good state, and the next run succeeds;
a second run started while one holds the warehouse stops at once with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import ROOT, run, table_hash

CLI = str(Path(sys.executable).with_name("consent-pipeline"))
GOLDEN = ["parties", "contact_point_owner", "consent_current", "consent_history"]


def _start(landing: Path, warehouse: Path, pause_at: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CONSENT_PAUSE_AT": pause_at, "CONSENT_PAUSE_SECONDS": "120"}
    return subprocess.Popen(
        [
            CLI,
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--extracts",
            str(warehouse.parent / "x"),
            "--rules",
            str(ROOT / "rules"),
            "--as-of",
            AS_OF,
            "--quiet",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_pause(proc: subprocess.Popen[str], point: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if f"PAUSED AT {point}" in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"run ended before reaching {point}: {proc.stderr.read()}")
    raise AssertionError(f"run did not reach {point}")


def test_sigkill_while_writing_golden_tables_keeps_last_good_state(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    good = {t: table_hash(warehouse, t) for t in GOLDEN}

    land(landing, DELIVERIES[4:])
    proc = _start(landing, warehouse, "golden:consent_current")  # two tables replaced, inside the transaction
    try:
        _wait_for_pause(proc, "golden:consent_current")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert {t: table_hash(warehouse, t) for t in GOLDEN} == good

    run(landing, warehouse, AS_OF)  # the next run succeeds and catches up
    fresh = tmp_path / "fresh.duckdb"
    run(landing, fresh, AS_OF)
    for table in GOLDEN:
        assert table_hash(warehouse, table) == table_hash(fresh, table), table


def test_second_run_stops_while_the_first_holds_the_warehouse(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land(landing, DELIVERIES)
    first = _start(landing, warehouse, "golden:parties")
    try:
        _wait_for_pause(first, "golden:parties")
        second = subprocess.run(
            [
                CLI,
                "run",
                "--landing",
                str(landing),
                "--warehouse",
                str(warehouse),
                "--rules",
                str(ROOT / "rules"),
                "--as-of",
                AS_OF,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"consent-pipeline: error: warehouse {warehouse} is locked by another run (pid {first.pid})"
    ]
