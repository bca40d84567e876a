"""Erasure on disk when a run is killed (SIGKILL) part-way.

A killed run cannot scrub what it never got to: its staged batches, spill files, half-written snapshot or
rewrite, and rows it wrote into the warehouse file may hold an erased subject's data. The guarantee:

- the next run's start removes the files the killed run left (only files the pipeline can prove it wrote),
  and marks the warehouse file for a rewrite;
- the next run that completes rewrites the warehouse file, so afterwards no file the pipeline owns (the
  warehouse folder, extracts, spill folder, DAGSTER_HOME) holds any form of her data.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consent_pipeline.lib.safe_paths import UnsafePath
from consent_pipeline.warehouse import Warehouse
from consent_pipeline.warehouse.database import SPILL_MARKER
from tests.erasure_disk import (
    byte_hits,
    files_under,
    land_after_erasure,
    land_before_erasure,
    land_erasure,
    table_hits,
)
from tests.faults import kill, start_paused, wait_for_pause
from tests.helpers import rows, run

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
AS_OF = "2026-03-01T06:00:00Z"


def _places(root: Path) -> dict[str, Path]:
    return {
        "landing": root / "landing",
        "warehouse": root / "wh" / "consent.duckdb",
        "extracts": root / "extracts",
        "temp": root / "temp",
        "dagster": root / "dagster",
    }


def _env(p: dict[str, Path]) -> dict[str, str]:
    """For the killed runs: a Dagster instance that keeps their history, and temporary files in `temp`."""
    return {"DAGSTER_HOME": str(p["dagster"]), "CONSENT_TEMP_DIR": str(p["temp"]), "TMPDIR": str(p["temp"])}


def _night(root: Path, as_of: str, *landers: Callable[[Path], None]) -> Path:
    """A completed run over what `landers` land, in fresh places under `root` (a Dagster home for the killed
    runs; this run spills into `temp` and keeps no history)."""
    p = _places(root)
    p["dagster"].mkdir()
    (p["dagster"] / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    p["temp"].mkdir()
    for land in landers:
        land(p["landing"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONSENT_TEMP_DIR", str(p["temp"]))
        mp.delenv("DAGSTER_HOME", raising=False)
        run(p["landing"], p["warehouse"], as_of, p["extracts"])
    return root


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after the run that applied her erasure (her data was ingested in an earlier run)."""
    return _night(tmp_path_factory.mktemp("erased"), "2026-02-20T06:00:00Z", land_before_erasure, land_erasure)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding her data, in the file itself (a run completed), before her erasure arrives."""
    return _night(tmp_path_factory.mktemp("ingested"), "2026-01-20T06:00:00Z", land_before_erasure)


def _copy(start: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A copy of a start state; runs in this process spill into its `temp` (an ephemeral Dagster instance:
    tests/test_erasure_disk.py searches a kept history of complete runs)."""
    root = tmp_path / "copy"
    shutil.copytree(start, root, symlinks=True)
    p = _places(root)
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(p["temp"]))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return p


@pytest.fixture
def places(erased: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A copy of the erased warehouse."""
    p = _copy(erased, tmp_path, monkeypatch)
    yield p


def _owned(p: dict[str, Path]) -> list[Path]:
    return [p["warehouse"].parent, p["extracts"], p["temp"], p["dagster"]]


def _left_behind(p: dict[str, Path]) -> list[str]:
    """Files under the warehouse folder and the temporary folder other than the warehouse, its lock, finished
    snapshots and spill folders' marks."""
    wh = p["warehouse"]
    expected = [
        re.escape(str(wh)),
        re.escape(str(wh)) + r"\.lock",
        re.escape(str(wh.parent / "snapshots")) + rf"/{UUID}\.duckdb",
        re.escape(str(p["temp"])) + r"/consent-pipeline-[0-9a-f]{12}\.spill/" + re.escape(SPILL_MARKER),
    ]
    return [
        str(f)
        for f in files_under(wh.parent, p["temp"])
        if not any(re.fullmatch(pattern, str(f)) for pattern in expected)
    ]


# Where the run is killed, and what it leaves that holds her data (a file, found by its bytes). The killed run
# reads her old export again after her erasure, except at rewrite:copied: there her erasure arrives in the killed
# run, and an earlier run had written her data into the file.
KILLS = {
    "staged:mailchimp": "her old export, staged as parquet",
    "erasure:scrubbed": "her old export in the event log in the clear; the scrub not committed",
    "golden:consent_current": "her old export, in the warehouse log of the run's uncommitted writes",
    "rewrite:copied": "the scrubbed rows in freed storage of the old file, the new one not yet renamed",
    "snapshot:copied": "the snapshot, not yet renamed (the file was rewritten)",
}


@pytest.mark.parametrize("point", KILLS)
def test_after_a_killed_run_the_next_run_leaves_no_erased_value_on_disk(
    erased: Path, ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    if point == "rewrite:copied":
        p = _copy(ingested, tmp_path, monkeypatch)
        # What the earlier run published before her erasure stays until an auditor purges it (purge-snapshots
        # --with-extracts, docs/audit.md); this test is about the files of the killed run and the next one.
        shutil.rmtree(p["extracts"])
        shutil.rmtree(p["warehouse"].parent / "snapshots")
        land_erasure(p["landing"])
    else:
        p = _copy(erased, tmp_path, monkeypatch)
    land_after_erasure(p["landing"])
    proc = start_paused(p["landing"], p["warehouse"], p["extracts"], AS_OF, point, env=_env(p))
    try:
        wait_for_pause(proc, point)
    finally:
        kill(proc)
    left = _left_behind(p)
    assert any(re.search(rf"\.{UUID}\.running$", f) for f in left)
    if point == "snapshot:copied":
        assert any(re.search(rf"/snapshots/\.{UUID}\.duckdb\.tmp$", f) for f in left)
    else:
        assert byte_hits(_owned(p)), f"the killed run left nothing of hers ({KILLS[point]}): a vacuous test"

    done = run(p["landing"], p["warehouse"], AS_OF, p["extracts"])
    assert _left_behind(p) == []
    assert byte_hits(_owned(p)) == []
    assert {f: table_hits(f) for f in files_under(p["warehouse"].parent) if f.suffix == ".duckdb"} == {
        f: [] for f in files_under(p["warehouse"].parent) if f.suffix == ".duckdb"
    }
    assert rows(p["warehouse"], "SELECT pending, rewritten_by_run FROM warehouse_rewrite") == [(False, done.run_id)]
    # her unreadable records are in quarantine, without their text (whichever run ingested them)
    assert rows(p["warehouse"], "SELECT count(*) FROM quarantine WHERE raw = '[erased]'") == [(3,)]


SPILL = """
import sys, time
from consent_pipeline.warehouse import Warehouse
with Warehouse(sys.argv[1]).connect() as con:
    con.execute("SET memory_limit = '20MB'")
    con.execute(
        "CREATE TEMP TABLE big AS SELECT 'eulalia.quarrington@example.co.uk ' || md5(i::VARCHAR) AS v "
        "FROM range(1000000) t(i)"
    )
    print("SPILLED", flush=True)
    time.sleep(120)
"""


def test_a_run_starts_by_removing_what_killed_runs_left(places: dict[str, Path]) -> None:
    p = places
    wh = Warehouse(p["warehouse"])
    land_after_erasure(p["landing"])
    reader = start_paused(p["landing"], p["warehouse"], p["extracts"], AS_OF, "staged:mailchimp", env=_env(p))
    try:
        wait_for_pause(reader, "staged:mailchimp")
    finally:
        kill(reader)
    staging = p["warehouse"].parent / "staging"
    assert [f for f, _ in byte_hits([staging])]  # her raw export, staged
    # A real spill: a warehouse connection over its memory cap, killed while its temporary table is on disk.
    spiller = subprocess.Popen(
        [sys.executable, "-c", SPILL, str(p["warehouse"])],
        env={**os.environ, **_env(p)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert spiller.stdout is not None and spiller.stdout.readline().strip() == "SPILLED"
    finally:
        kill(spiller)
    spilled = [f for f in wh.spill_dir.iterdir() if f.name.startswith("duckdb_temp_")]
    assert spilled and byte_hits([wh.spill_dir])
    # Files the pipeline did not write are never removed.
    foreign = [wh.spill_dir / "notes.txt", staging / "README", p["warehouse"].parent / "snapshots" / ".keep.tmp"]
    for f in foreign:
        f.write_text("not the pipeline's\n")

    # A pause the test could release: the run lets go of the warehouse while it waits, so it can be read.
    go = p["landing"].parent / "go"
    starting = start_paused(p["landing"], p["warehouse"], p["extracts"], AS_OF, "run:started", env=_env(p), until=go)
    try:
        wait_for_pause(starting, "run:started")
        assert [f for f in staging.iterdir()] == [staging / "README"]
        assert sorted(f.name for f in wh.spill_dir.iterdir()) == sorted([SPILL_MARKER, "notes.txt"])
        assert stat.S_IMODE(wh.spill_dir.stat().st_mode) == 0o700
        marks = [f for f in p["warehouse"].parent.iterdir() if f.name.endswith(".running")]
        assert len(marks) == 1 and marks[0].read_text() == f"pid {starting.pid}\n"  # only its own
        assert rows(p["warehouse"], "SELECT pending FROM warehouse_rewrite") == [(True,)]
        assert all(f.exists() for f in foreign)
    finally:
        kill(starting)
    run(p["landing"], p["warehouse"], AS_OF, p["extracts"])
    assert byte_hits(_owned(p)) == []
    assert all(f.exists() for f in foreign)


def test_the_spill_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_TEMP_DIR", raising=False)
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.spill_dir.mkdir(mode=0o755)
    os.chmod(wh.spill_dir, 0o755)
    with wh.connect() as con:
        folder = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert folder == str(tmp_path / "w.duckdb.spill")
    assert stat.S_IMODE(wh.spill_dir.stat().st_mode) == 0o700
    assert (wh.spill_dir / SPILL_MARKER).is_file()

    shared = tmp_path / "shared-tmp"
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(shared))
    other = Warehouse(tmp_path / "w.duckdb")
    with other.connect() as con:
        folder = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert Path(folder).parent == shared and Path(folder).name.startswith("consent-pipeline-")
    assert stat.S_IMODE(Path(folder).stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) != 0o700  # the shared folder itself is left as it is

    monkeypatch.delenv("CONSENT_TEMP_DIR")
    planted = Warehouse(tmp_path / "v.duckdb")
    planted.spill_dir.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with (
        pytest.raises(UnsafePath, match=r"v\.duckdb\.spill is a symbolic link: refusing to follow it"),
        planted.connect(),
    ):
        pass
    assert not (tmp_path / "elsewhere").exists()
