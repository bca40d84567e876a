"""Erasure leaves no bytes behind: after the run that applies an erasure, and after later runs that bring her
data again, no file under the warehouse folder (warehouse, snapshots, staging, spill), the extracts, the
temporary folder or DAGSTER_HOME holds any form of the erased subject's data, in its bytes or in a table.
Snapshots and extracts written before the erasure keep it (auditors' records) until purged."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from consent_pipeline.cli import main
from consent_pipeline.core.lib.rewrite import rewrite
from consent_pipeline.defs.metadata import md_table
from consent_pipeline.warehouse import Warehouse
from tests.erasure_disk import (
    FORMS,
    byte_hits,
    files_under,
    land_after_erasure,
    land_before_erasure,
    land_erasure,
    table_hits,
)
from tests.helpers import rows, run, table_hash

HER_EMAIL_SHA256 = "c5f5238acb0c1dbe0e8ee1363e8f4720550c0ceff10d8583576a62804745b32d"


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The warehouse folder, extracts, spill folder and a persistent Dagster instance, all under tmp_path."""
    p = {
        "landing": tmp_path / "landing",
        "warehouse": tmp_path / "wh" / "consent.duckdb",
        "extracts": tmp_path / "extracts",
        "temp": tmp_path / "temp",
        "dagster": tmp_path / "dagster",
    }
    p["dagster"].mkdir()
    (p["dagster"] / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(p["dagster"]))
    monkeypatch.setenv("CONSENT_TEMP_DIR", str(p["temp"]))
    return p


def _owned(p: dict[str, Path]) -> list[Path]:
    return [p["warehouse"].parent, p["extracts"], p["temp"], p["dagster"]]


def _duckdb_files(p: dict[str, Path]) -> list[Path]:
    return [f for f in files_under(p["warehouse"].parent) if f.suffix == ".duckdb"]


def test_no_erased_value_on_disk_after_the_erasure_and_after_later_runs(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    p = places
    land_before_erasure(p["landing"])
    before = run(p["landing"], p["warehouse"], "2026-01-21T06:00:00Z", p["extracts"])
    # The search sees her data where it is: in the warehouse (as bytes too), its snapshot and her campaign row.
    found = {Path(f) for f, _ in byte_hits(_owned(p))}
    assert p["warehouse"] in found and p["warehouse"].parent / "snapshots" / f"{before.run_id}.duckdb" in found
    assert p["extracts"] / "2026-01-21" / "campaign_home_spring_newsletter.csv" in found
    assert table_hits(p["warehouse"])
    pre_erasure = (p["warehouse"].parent / "snapshots" / f"{before.run_id}.duckdb", p["extracts"] / "2026-01-21")

    land_erasure(p["landing"])
    erasing = run(p["landing"], p["warehouse"], "2026-02-20T06:00:00Z", p["extracts"])
    assert rows(p["warehouse"], "SELECT rewritten_by_run FROM warehouse_rewrite WHERE NOT pending") == [
        (erasing.run_id,)
    ]
    assert "3 erased contact points (every row scrubbed; warehouse file rewritten)" in erasing.summary()
    assert rows(
        p["warehouse"], "SELECT DISTINCT reason FROM suppression WHERE contact_point_sha256 = ?", [HER_EMAIL_SHA256]
    ) == [("erased",)]
    assert byte_hits(_owned(p), skip=pre_erasure) == []
    assert {f: table_hits(f) for f in _duckdb_files(p) if f != pre_erasure[0]} == {
        f: [] for f in _duckdb_files(p) if f != pre_erasure[0]
    }

    # Her old export and unreadable records naming her arrive after the erasure: rows written in the clear,
    # scrubbed, and the file rewritten again.
    land_after_erasure(p["landing"])
    later = run(p["landing"], p["warehouse"], "2026-03-01T06:00:00Z", p["extracts"])
    assert later.figures["quarantined"] == 3
    # Dagster's history holds the quarantine previews (searched above), with the raw text as a hash
    assert any(b"raw_sha256" in f.read_bytes() for f in files_under(p["dagster"]))
    assert rows(p["warehouse"], "SELECT rewritten_by_run FROM warehouse_rewrite") == [(later.run_id,)]
    assert byte_hits(_owned(p), skip=pre_erasure) == []
    for f in _duckdb_files(p):
        assert f == pre_erasure[0] or table_hits(f) == [], f

    # A night with nothing of hers leaves the file as it is (no rewrite) and still nothing is found.
    quiet = run(p["landing"], p["warehouse"], "2026-03-02T06:00:00Z", p["extracts"])
    assert rows(p["warehouse"], "SELECT rewritten_by_run FROM warehouse_rewrite") == [(later.run_id,)]
    assert "rewritten" not in quiet.summary()
    assert byte_hits(_owned(p), skip=pre_erasure) == []

    # The privacy officer purges what was written before the erasure: a run the warehouse does not know is
    # refused, a dry run lists, then the purge.
    purge = ["purge-snapshots", "--warehouse", str(p["warehouse"]), "--with-extracts", "--extracts", str(p["extracts"])]
    assert main([*purge, "--before", "no-such-run"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "consent-pipeline: error: run no-such-run is not in the warehouse's run_log (see: SELECT * FROM run_log)"
    ]
    assert main([*purge, "--before", erasing.run_id, "--dry-run"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith(f"would remove {pre_erasure[0]} (run logged ")
    assert listed[1:] == [
        f"would remove extract folder {pre_erasure[1]}",
        "snapshots: 1 to remove (dry run: nothing removed), 3 kept",
        "extract folders: 1 to remove (dry run: nothing removed)",
    ]
    assert byte_hits(_owned(p)) != []
    assert main([*purge, "--before", erasing.run_id]) == 0
    assert byte_hits(_owned(p)) == []
    left = sorted(f.stem for f in (p["warehouse"].parent / "snapshots").iterdir())
    assert left == sorted([erasing.run_id, later.run_id, quiet.run_id])
    assert sorted(f.name for f in p["extracts"].iterdir()) == ["2026-02-20", "2026-03-01", "2026-03-02"]


def test_a_first_run_rewrites_right_after_erasure_and_leaves_no_erased_value(places: dict[str, Path]) -> None:
    """A first build over her data and her erasure: the file is rewritten when erasure is done (it holds only
    the ingested tables then), not again at the end, and nothing of hers is on disk afterwards."""
    p = places
    land_before_erasure(p["landing"])
    land_erasure(p["landing"])
    land_after_erasure(p["landing"])
    first = run(p["landing"], p["warehouse"], "2026-03-01T06:00:00Z", p["extracts"])
    assert (first.figures.get("rewritten_early"), first.figures.get("rewritten")) == (1, 0)
    assert "warehouse file rewritten" in first.summary()
    assert rows(p["warehouse"], "SELECT pending, rewritten_by_run FROM warehouse_rewrite") == [(False, first.run_id)]
    assert byte_hits(_owned(p)) == []
    assert {f: table_hits(f) for f in _duckdb_files(p)} == {f: [] for f in _duckdb_files(p)}
    # her unreadable records are in quarantine without their text
    assert rows(p["warehouse"], "SELECT count(*) FROM quarantine WHERE raw = '[erased]'") == [(3,)]


def test_rewrite_keeps_every_table_view_and_macro(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    land_before_erasure(landing)
    land_erasure(landing)
    run(landing, warehouse, "2026-02-20T06:00:00Z")
    describe = """
        SELECT 'table', table_name, sql FROM duckdb_tables() WHERE NOT internal
        UNION ALL SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal
        UNION ALL SELECT 'macro', function_name, macro_definition FROM duckdb_functions()
            WHERE NOT internal AND function_type LIKE '%macro%'
        ORDER BY ALL
    """
    macro = "SELECT * FROM consent_as_of(TIMESTAMPTZ '2026-02-01 00:00:00+00') ORDER BY ALL"
    objects, answer = rows(warehouse, describe), rows(warehouse, macro)
    tables = [str(name) for kind, name, _ in objects if kind == "table" and name != "warehouse_rewrite"]
    hashes = {t: table_hash(warehouse, t) for t in tables}
    assert len(tables) > 40 and answer

    done = rewrite(Warehouse(warehouse), "00000000-0000-4000-8000-000000000000", "test")
    assert done.bytes_after > 0
    assert rows(warehouse, describe) == objects
    assert rows(warehouse, macro) == answer
    assert {t: table_hash(warehouse, t) for t in tables} == hashes
    assert rows(warehouse, "SELECT pending, rewritten_by_run FROM warehouse_rewrite") == [
        (False, "00000000-0000-4000-8000-000000000000")
    ]
    assert [f.name for f in tmp_path.iterdir() if ".rewrite" in f.name or f.suffix == ".wal"] == []


def test_a_checkpoint_or_an_in_place_rewrite_leaves_the_bytes_and_a_rewrite_does_not(tmp_path: Path) -> None:
    """Why the file is rewritten into a new one: DuckDB keeps updated values in freed blocks."""
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE t AS SELECT 'eulalia.quarrington@example.co.uk' AS email, 1 AS n "
        "UNION ALL SELECT 'ken.control@example.co.uk', 2"
    )
    con.execute("CREATE TABLE other AS SELECT range AS x FROM range(100000)")
    con.execute("CHECKPOINT")
    con.execute("UPDATE t SET email = 'sha256:' || sha256(email) WHERE email LIKE 'eulalia%'")
    con.execute("CHECKPOINT")
    con.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM t")
    con.execute("CHECKPOINT")
    con.close()
    assert rows(db, "SELECT count(*) FROM t WHERE email LIKE 'eulalia%'") == [(0,)]
    assert FORMS[0].encode() in db.read_bytes()
    rewrite(Warehouse(db), "00000000-0000-4000-8000-000000000000")
    assert FORMS[0].encode() not in db.read_bytes()
    assert rows(db, "SELECT count(*) FROM t") == [(2,)]


def test_dagster_metadata_shows_no_personal_data() -> None:
    frame = pl.DataFrame(
        {
            "source_file": ["mailchimp/2026-01-06T020000Z/export.csv"],
            "source_record": [1],
            "reason": ["invalid_json"],
            "contact_point": ["eulalia.quarrington@example.co.uk"],
            "first_name": ["Eulalia"],
            "raw": ['{"email": "Eulalia.Quarrington@Example.co.uk"'],
            "contact_point_sha256": [HER_EMAIL_SHA256],
        }
    )
    markdown = md_table(frame).value
    assert isinstance(markdown, str)
    shown = markdown.lower()
    assert [form for form in FORMS if form in shown] == []
    assert f"sha256:{HER_EMAIL_SHA256}" in shown  # the contact point as the warehouse keeps an erased one
    assert "mailchimp/2026-01-06t020000z/export.csv | 1 | invalid_json" in shown
