"""Paths the pipeline writes: links are refused or replaced, never written through; one warehouse takes one
lock whatever name reaches it; an extract folder is swapped in whole, so a run killed at any point leaves a
complete folder (checked with `sha256sum -c`), and files a person put there are kept."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.core.lib.sql import warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.lib.safe_paths import UnsafePath, copy_nofollow, open_nofollow, write_new
from tests.faults import check_folder, cli_run, error_line, kill, start_paused, wait_for_pause
from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.helpers import ROOT, run

DAY = "2026-03-01"


def test_a_warehouse_without_its_parquet_tables_does_not_start(tmp_path: Path) -> None:
    """A warehouse file a Spark run left, copied without its `.tables` folder: the run stops before reading
    anything (exit 2, one line), instead of failing later or replacing tables it does not have."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TEMP TABLE s AS SELECT 'x' AS contact_point")
        with transaction(con):
            parquet_tables.write_version(con, "suppression", "s")
    version = next(parquet_tables.root_of(warehouse).rglob("*.parquet"))
    shutil.rmtree(parquet_tables.root_of(warehouse))
    got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    assert got.returncode == 2
    assert error_line(got) == (
        f"the warehouse's Parquet tables cannot be read (suppression: {version} is not there): put the folder "
        "w.duckdb.tables back beside the warehouse file as it was, or run with --full-rebuild to recompute those "
        "tables from the event log"
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:  # nothing was read or written
        assert warehouse_tables(con) == {"parquet_versions", "suppression"}


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious\n", encoding="utf-8")
    return path


def test_a_damaged_parquet_version_stops_the_run_and_a_full_rebuild_recomputes_it(tmp_path: Path) -> None:
    """A Spark run's contact_permission version damaged on disk (cut in the middle): a run stops before reading
    anything and says what to do; a full rebuild drops it and recomputes the same rows from the event log."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    run(landing, warehouse, AS_OF, tmp_path / "x")
    with duckdb.connect(str(warehouse)) as con:
        before = con.execute("SELECT * FROM contact_permission ORDER BY ALL").fetchall()
        con.execute("CREATE TEMP TABLE p AS SELECT * FROM contact_permission")
        with transaction(con):  # as a Spark run leaves it
            parquet_tables.write_version(con, "contact_permission", "p")
        files, _ = parquet_tables.kept(con)["contact_permission"]
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])
    got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    assert got.returncode == 2
    line = error_line(got)
    assert line.startswith("the warehouse's Parquet tables cannot be read (contact_permission: ") and line.endswith(
        "or run with --full-rebuild to recompute those tables from the event log"
    )
    run(landing, warehouse, AS_OF, tmp_path / "x", full_rebuild=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT * FROM contact_permission ORDER BY ALL").fetchall() == before
        assert "parquet_versions" not in warehouse_tables(con)
    assert not parquet_tables.root_of(warehouse).exists()


@pytest.mark.parametrize(
    ("suffix", "what"),
    [
        (".lock", "lock file"),
        (".wal", "warehouse log"),
        (".spill", "spill folder"),
        (".tables", "Parquet tables folder"),
    ],
)
def test_a_linked_lock_log_or_spill_is_refused_and_its_target_untouched(
    tmp_path: Path, victim: Path, suffix: str, what: str
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    warehouse.parent.mkdir()
    (warehouse.parent / f"w.duckdb{suffix}").symlink_to(victim)
    got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    assert got.returncode == 2
    kind = "folder" if "folder" in what else "file"
    assert error_line(got) == (
        f"{what} {warehouse}{suffix} is a symbolic link: refusing to follow it (replace it by a real {kind})"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_a_linked_warehouse_file_is_refused(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    run(landing, tmp_path / "other" / "o.duckdb", AS_OF)
    warehouse.parent.mkdir()
    warehouse.symlink_to(tmp_path / "other" / "o.duckdb")
    got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    assert got.returncode == 2
    assert error_line(got) == (
        f"warehouse {warehouse} is a symbolic link: refusing to follow it (replace it by a real file)"
    )


def test_a_spill_folder_that_is_not_a_folder_is_one_line(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    warehouse.parent.mkdir()
    (warehouse.parent / "w.duckdb.spill").write_text("not a folder\n", encoding="utf-8")
    got = cli_run(landing, warehouse, tmp_path / "x", AS_OF)
    assert got.returncode == 2
    assert error_line(got) == (
        f"spill folder {warehouse}.spill is not a directory of this user (a symlink or another user's): remove it"
    )


@pytest.mark.parametrize("which", ["root", "day"])
def test_a_linked_extracts_folder_is_refused(tmp_path: Path, which: str) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    land(landing, DELIVERIES)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    extracts = tmp_path / "x"
    if which == "root":
        extracts.symlink_to(elsewhere)
        link, what = extracts, "extracts folder"
    else:
        extracts.mkdir()
        (extracts / DAY).symlink_to(elsewhere)
        link, what = extracts / DAY, "extract folder"
    got = cli_run(landing, warehouse, extracts, AS_OF)
    assert got.returncode == 2
    assert error_line(got) == f"{what} {link} is a symbolic link: refusing to follow it (replace it by a real folder)"
    assert list(elsewhere.iterdir()) == []


def test_one_warehouse_through_a_linked_folder_takes_the_same_lock(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, DELIVERIES)
    real = tmp_path / "wh"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    first = start_paused(landing, alias / "w.duckdb", tmp_path / "x", AS_OF, "golden:parties")
    try:
        wait_for_pause(first, "golden:parties")
        second = cli_run(landing, real / "w.duckdb", tmp_path / "x", AS_OF)
    finally:
        kill(first)
    assert second.returncode == 2
    assert error_line(second) == f"warehouse {real / 'w.duckdb'} is locked by another run (pid {first.pid})"


def test_files_a_person_put_in_the_extract_folder_are_kept_and_named(tmp_path: Path, victim: Path) -> None:
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES)
    run(landing, warehouse, AS_OF, extracts=extracts)
    folder = extracts / DAY
    assert (folder / "campaign_energy_winter_offers.csv").exists()
    (folder / "notes.csv").write_text("who,why\nme,checking\n", encoding="utf-8")
    (folder / "archive").mkdir()
    (folder / "archive" / "old.csv").write_text("x\n", encoding="utf-8")
    # links planted at the names the pipeline writes through: replaced, their targets untouched
    (folder / ".manifest.json.tmp").symlink_to(victim)
    (folder / ".suppression_email.csv.tmp").symlink_to(victim)
    # and a campaign dropped from the rules: its file goes (the pipeline wrote it)
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    data = yaml.safe_load((rules / "campaigns.yaml").read_text(encoding="utf-8"))
    del data["campaigns"]["energy_winter_offers"]
    (rules / "campaigns.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    got = cli_run(landing, warehouse, extracts, AS_OF, None, "--rules", str(rules))
    assert got.returncode == 0, got.stderr
    assert "    kept, not written by the pipeline: archive, notes.csv" in got.stdout.splitlines()
    assert (folder / "notes.csv").read_text(encoding="utf-8") == "who,why\nme,checking\n"
    assert (folder / "archive" / "old.csv").read_text(encoding="utf-8") == "x\n"
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not (folder / "campaign_energy_winter_offers.csv").exists()
    manifest = check_folder(folder, foreign=("notes.csv",))
    assert "campaign_energy_winter_offers.csv" not in {f["name"] for f in manifest["files"]}
    assert sorted(p.name for p in extracts.iterdir()) == [DAY]  # no work folder left


@pytest.mark.parametrize("point", ["extracts:written", "extracts:swapped"])
def test_a_rerun_killed_while_writing_extracts_leaves_one_complete_folder(tmp_path: Path, point: str) -> None:
    landing, warehouse, extracts = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "x"
    land(landing, DELIVERIES[:6])
    first = run(landing, warehouse, AS_OF, extracts=extracts)
    folder = extracts / DAY
    assert check_folder(folder)["run_id"] == first.run_id
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    land(landing, DELIVERIES[6:])  # the same date's rerun has more to say
    proc = start_paused(landing, warehouse, extracts, AS_OF, point)
    try:
        wait_for_pause(proc, point)
    finally:
        kill(proc)
    manifest = check_folder(folder)  # whole either way: never one run's manifest beside the other's files
    if point == "extracts:written":
        assert manifest["run_id"] == first.run_id
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    else:
        assert manifest["run_id"] != first.run_id
    assert [p.name for p in extracts.iterdir() if p.name.startswith(".")]  # the killed run's work folder

    again = run(landing, warehouse, AS_OF, extracts=extracts)
    assert check_folder(folder)["run_id"] == again.run_id
    assert sorted(p.name for p in extracts.iterdir()) == [DAY]  # the leftover was cleared


def test_files_are_created_without_following_links(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(UnsafePath, match="is a symbolic link: refusing to follow it"):
        open_nofollow(link, os.O_RDWR | os.O_CREAT, "lock file")
    write_new(link, b"new")  # a temporary name: the link is replaced by a new file
    assert link.read_bytes() == b"new" and not link.is_symlink()
    other = tmp_path / "other"
    other.symlink_to(victim)
    copy_nofollow(link, other)
    assert other.read_bytes() == b"new" and not other.is_symlink()
    assert victim.read_text(encoding="utf-8") == "precious\n"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="is not a regular file"):
        open_nofollow(fifo, os.O_RDWR | os.O_CREAT, "lock file")


def test_leftovers_of_killed_runs_are_cleared_but_not_a_folder_being_written(tmp_path: Path) -> None:
    """A killed run's work folder loses the pipeline's files (anything else in it stays, named); an old folder
    set aside by the two-rename fallback comes back when its date has none; a folder another run holds
    (flock) is left alone."""
    import fcntl

    from consent_pipeline.core.marketing.extracts import _clear_work_folders

    root = tmp_path / "x"
    busy, dead, old = root / ".2026-03-01.a-1.tmp", root / ".2026-03-01.b-2.tmp", root / ".2026-02-28.c-3.old"
    for folder in (busy, dead, old):
        folder.mkdir(parents=True)
        (folder / "suppression_email.csv").write_text("x\n", encoding="utf-8")
    (dead / ".review_queue.csv.tmp").write_text("x\n", encoding="utf-8")
    held = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        _clear_work_folders(root)
        assert (busy / "suppression_email.csv").exists()
    finally:
        os.close(held)
    assert not dead.exists()
    assert (root / "2026-02-28" / "suppression_email.csv").exists() and not old.exists()
    (dead).mkdir()
    (dead / "mine.txt").write_text("keep\n", encoding="utf-8")
    _clear_work_folders(root)
    assert not busy.exists()  # no longer held: a leftover
    assert (dead / "mine.txt").read_text(encoding="utf-8") == "keep\n"
