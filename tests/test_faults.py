"""One clear line for every fault, provoked for real: a warehouse another process has open, read-only
folders (a read-only mount: root ignores file modes), full disks (small tmpfs mounts), DuckDB out of memory
(a small memory cap). Exit 2 when the run could not start (nothing read), 1 when a step failed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from consent_pipeline.config import load_rules
from consent_pipeline.generate import generate
from tests.faults import cli_run, error_line, read_only, tmpfs
from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import ROOT, rows, run

GENERATED_AS_OF = "2026-03-01T06:00:00Z"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated landing tree of about 22,000 records: enough to fill a small disk or memory cap."""
    out = tmp_path_factory.mktemp("generated") / "landing"
    generate(out, load_rules(ROOT / "rules"), scale=0.02, seed=7)
    return out


def test_a_warehouse_open_in_another_process_stops_the_run_before_any_feed_is_read(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES[:4])
    run(landing, warehouse, AS_OF)
    files_before = rows(warehouse, "SELECT count(*) FROM ingest_ledger")
    land(landing, DELIVERIES[4:])
    auditor = subprocess.Popen(  # an auditor's DuckDB session, read-only, left open
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert auditor.stdout is not None and auditor.stdout.readline().strip() == "open"
        got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    finally:
        assert auditor.stdin is not None
        auditor.stdin.close()
        auditor.wait(timeout=30)
    assert got.returncode == 2
    assert error_line(got) == (
        f"warehouse {warehouse} is open in another process (pid {auditor.pid}), e.g. a DuckDB session: "
        "close it and run again (auditors can read the run snapshots instead)"
    )
    assert got.stdout == ""
    assert rows(warehouse, "SELECT count(*) FROM ingest_ledger") == files_before  # no feed was read
    assert not list((warehouse.parent / "staging").glob("*/*.parquet"))
    assert cli_run(landing, warehouse, tmp_path / "x", AS_OF).returncode == 0  # closed: the run goes


def test_a_read_only_warehouse_folder_stops_the_run_in_one_line(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, DELIVERIES)
    with tmpfs(tmp_path / "ro", "64m") as mount:
        warehouse = mount / "w.duckdb"
        run(landing, warehouse, AS_OF, extracts=tmp_path / "x")  # a warehouse from an earlier night
        read_only(mount)
        got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
        assert got.returncode == 2
        assert error_line(got) == f"cannot write to the warehouse folder {mount}: Read-only file system"
        # and a folder that is read-only before any warehouse exists
        empty = cli_run(landing, mount / "new" / "w.duckdb", tmp_path / "x", AS_OF)
        assert empty.returncode == 2
        assert error_line(empty) == (f"cannot write to the warehouse folder {mount / 'new'}: Read-only file system")


@pytest.mark.parametrize(
    ("target", "what"),
    [("extracts", "extracts folder"), ("spill", "spill folder (CONSENT_TEMP_DIR)")],
)
def test_a_read_only_extracts_or_spill_folder_stops_the_run_in_one_line(tmp_path: Path, target: str, what: str) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    with tmpfs(tmp_path / "ro", "1m") as mount:
        read_only(mount)
        extracts = mount if target == "extracts" else tmp_path / "x"
        env = {"CONSENT_TEMP_DIR": str(mount)} if target == "spill" else {}
        got = cli_run(landing, warehouse, extracts, AS_OF, env)
    assert got.returncode == 2
    assert error_line(got) == f"cannot write to the {what} {mount}: Read-only file system"
    assert not warehouse.exists()  # the checks come before the warehouse is opened


FREE = r"[0-9.]+ [KMGT]?B free there now \(free space, or move the folder: see docs/operations\.md\)"


def test_a_full_disk_under_the_warehouse_names_the_file_and_the_space_left(tmp_path: Path, generated: Path) -> None:
    with tmpfs(tmp_path / "small", "6m") as mount:
        got = cli_run(generated, mount / "w.duckdb", tmp_path / "x", GENERATED_AS_OF)
    assert got.returncode == 1
    line = error_line(got)
    assert re.fullmatch(rf"disk full in step \w+: no space left writing {re.escape(str(mount))}/\S+; {FREE}", line), (
        line
    )
    assert "  error: " + line in got.stdout  # the summary says it too


def test_a_full_snapshots_disk_says_how_much_the_snapshot_needed(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    with tmpfs(warehouse.parent / "snapshots", "512k") as snapshots:
        got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
        assert not [p for p in snapshots.iterdir() if p.is_file()]
    assert got.returncode == 1
    line = error_line(got)
    assert re.fullmatch(
        rf"disk full in step snapshot: no space left writing {re.escape(str(snapshots))}/\.[0-9a-f-]+\.duckdb\.tmp; "
        rf"it needed [0-9.]+ MB; {FREE}",
        line,
    ), line
    # the extracts went out before the snapshot step failed
    assert (tmp_path / "x" / "2026-03-01" / "manifest.json").exists()


def test_a_full_extracts_disk_leaves_no_half_written_folder(tmp_path: Path, generated: Path) -> None:
    with tmpfs(tmp_path / "x", "64k") as extracts:
        got = cli_run(generated, tmp_path / "wh" / "w.duckdb", extracts, GENERATED_AS_OF)
        left = sorted(p.name for p in extracts.iterdir())
    assert got.returncode == 1
    line = error_line(got)
    assert re.fullmatch(
        rf"disk full in step marketing_extracts: no space left writing {re.escape(str(extracts))}/\S+; {FREE}",
        line,
    ), line
    assert left == []  # neither the date's folder nor the work folder it was written in


def test_out_of_memory_names_the_setting_to_raise(tmp_path: Path, generated: Path) -> None:
    got = cli_run(
        generated, tmp_path / "wh" / "w.duckdb", tmp_path / "x", GENERATED_AS_OF, {"CONSENT_MEMORY_LIMIT": "64MB"}
    )
    assert got.returncode == 1
    line = error_line(got)
    assert re.fullmatch(
        r"out of memory in step \w+: DuckDB needed more than its cap \(CONSENT_MEMORY_LIMIT=64\.0 MB\); raise "
        r"CONSENT_MEMORY_LIMIT \(this machine has [0-9.]+ [MGT]B of memory\) and run again",
        line,
    ), line
