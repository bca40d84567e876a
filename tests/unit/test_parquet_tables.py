"""Tables kept as Parquet versions behind views (core/lib/parquet_tables.py), on a real warehouse file: what a
write leaves, what a rolled-back one leaves, the sweep, the way back to DuckDB tables and the snapshot."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.audit.snapshot import write_snapshot
from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.core.lib.sql import warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.engines.spark import PARQUET_TABLES

PACKAGE = Path(__file__).resolve().parents[2] / "consent_pipeline"


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    # a folder name Spark's and DuckDB's globbing would misread
    folder = tmp_path / "it's [wh] {x}"
    folder.mkdir()
    c = duckdb.connect(str(folder / "consent.duckdb"))
    c.execute("CREATE TYPE channel AS ENUM ('email', 'sms')")
    c.execute(
        "CREATE TEMP TABLE src AS SELECT * FROM (VALUES ('a@x.com', 'email'::channel, TIMESTAMP '2026-01-01 10:00', "
        "1::INTEGER), ('07700', 'sms'::channel, NULL, 2), (NULL, 'sms'::channel, TIMESTAMP '2026-01-02', 3)) "
        "t(contact_point, channel, seen_at, n)"
    )
    return c


def versions(con: duckdb.DuckDBPyConnection) -> list[Path]:
    base = parquet_tables.root(con)
    return sorted(v for t in base.iterdir() for v in t.iterdir()) if base.is_dir() else []


def test_a_write_is_a_view_over_one_version_with_the_sources_types(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        rows = parquet_tables.write_version(con, "consent_current", "src", order="n")
    assert rows == 3
    assert (
        con.execute("SELECT * FROM consent_current ORDER BY n").fetchall()
        == con.execute("SELECT * FROM src ORDER BY n").fetchall()
    )
    assert con.execute("DESCRIBE consent_current").fetchall() == con.execute("DESCRIBE src").fetchall()
    assert "consent_current" in warehouse_tables(con)
    assert len(versions(con)) == 1


def test_a_scoped_write_replaces_the_scope_keeps_null_keys_and_supersedes_the_old_version(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with transaction(con):
        parquet_tables.write_version(con, "consent_current", "src")
    first = versions(con)
    con.execute(
        "CREATE TEMP TABLE new AS SELECT 'a@x.com' AS contact_point, 'email' AS channel, NULL AS seen_at, 9 AS n"
    )
    with transaction(con):
        parquet_tables.write_version(con, "consent_current", "new", "contact_point IN ('a@x.com')")
    got = con.execute("SELECT contact_point, n FROM consent_current ORDER BY n").fetchall()
    assert got == [("07700", 2), (None, 3), ("a@x.com", 9)]  # the NULL key is not in the scope: kept
    assert con.execute("DESCRIBE consent_current").fetchall() == con.execute("DESCRIBE src").fetchall()
    after = versions(con)
    assert len(after) == 1 and after != first  # the superseded version went with the commit


def test_a_rolled_back_write_leaves_the_last_version_and_the_sweep_removes_its_files(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with transaction(con):
        parquet_tables.write_version(con, "consent_current", "src")
    good = versions(con)
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("DELETE FROM src WHERE n = 1")
        parquet_tables.write_version(con, "consent_current", "src")
        raise RuntimeError("killed before the commit")
    assert con.execute("SELECT count(*) FROM consent_current").fetchall() == [(3,)]
    assert len(versions(con)) == 2  # the uncommitted version is on disk until a sweep
    removed = parquet_tables.sweep(con)
    assert versions(con) == good and len(removed) == 1


def test_a_duckdb_table_becomes_a_version_and_back(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE suppression AS SELECT * FROM src")
    with transaction(con):
        parquet_tables.write_version(con, "suppression", "(SELECT * FROM src WHERE n = 2)", "n = 2")
    assert con.execute("SELECT count(*) FROM suppression").fetchall() == [(3,)]
    kind = "SELECT table_type FROM information_schema.tables WHERE table_name = 'suppression'"
    assert con.execute(kind).fetchall() == [("VIEW",)]
    with transaction(con):
        assert parquet_tables.materialise(con) == ["suppression"]
    assert con.execute(kind).fetchall() == [("BASE TABLE",)]
    assert con.execute("DESCRIBE suppression").fetchall() == con.execute("DESCRIBE src").fetchall()
    assert con.execute("SELECT count(*) FROM suppression").fetchall() == [(3,)]
    assert not parquet_tables.root(con).exists()  # no version left, nor the folder


def test_the_snapshot_holds_the_rows_not_a_view_of_files_later_runs_remove(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with transaction(con):
        parquet_tables.write_version(con, "contact_permission", "src")
    warehouse = Path(
        con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    )
    con.close()
    snap = write_snapshot(warehouse, tmp_path / "snapshots", "00000000-0000-0000-0000-000000000000")
    parquet_tables.root_of(warehouse).rename(tmp_path / "gone")
    s = duckdb.connect(str(snap), read_only=True)
    assert s.execute("SELECT count(*) FROM contact_permission").fetchall() == [(3,)]
    assert "parquet_versions" not in warehouse_tables(s)


def test_the_tables_kept_as_parquet_are_written_only_through_write_table() -> None:
    """Every write of a table Spark keeps as Parquet must be a new version: an INSERT, DELETE, UPDATE or
    CREATE TABLE of it anywhere else in the package would fail on the view (or, worse, write a DuckDB table
    the catalog does not know)."""
    names = "|".join(sorted(PARQUET_TABLES))
    direct = re.compile(
        rf"(INSERT\s+INTO|DELETE\s+FROM|UPDATE|CREATE\s+(OR\s+REPLACE\s+)?TABLE|ALTER\s+TABLE)\s+({names})\b",
        re.IGNORECASE,
    )
    found = [
        f"{p.relative_to(PACKAGE)}: {m.group(0)}"
        for p in sorted(PACKAGE.rglob("*"))
        if p.suffix in (".py", ".sql")
        for m in direct.finditer(p.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_a_moved_warehouse_reads_its_own_versions_and_one_without_them_stops(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with transaction(con):
        parquet_tables.write_version(con, "segments", "src")
    old = parquet_tables.root(con)
    warehouse = old.with_name("consent.duckdb")
    con.close()
    moved = tmp_path / "moved" / "consent.duckdb"
    moved.parent.mkdir()
    shutil.copy(warehouse, moved)
    alone = duckdb.connect(str(moved))
    with pytest.raises(parquet_tables.MissingVersions, match=r"put the folder consent\.duckdb\.tables back"):
        parquet_tables.repoint(alone)
    alone.close()
    shutil.move(old, parquet_tables.root_of(moved))  # the folder follows: the old place has none left
    with duckdb.connect(str(moved)) as c:
        parquet_tables.repoint(c)
        assert c.execute("SELECT count(*) FROM segments").fetchall() == [(3,)]


def test_a_warehouse_without_parquet_tables_is_left_as_it_is(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "consent.duckdb")) as c:
        c.execute("CREATE TABLE suppression AS SELECT 1 AS n")
        parquet_tables.repoint(c)
        assert parquet_tables.sweep(c) == [] and parquet_tables.kept(c) == {}
        assert warehouse_tables(c) == {"suppression"}


def test_a_damaged_version_is_named_and_a_full_rebuild_drops_its_table(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        parquet_tables.write_version(con, "segments", "src")
        parquet_tables.write_version(con, "suppression", "src")
    files, _ = parquet_tables.kept(con)["segments"]
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])  # cut in the middle: no footer
    assert list(parquet_tables.unreadable(con)) == ["segments"]
    problem = parquet_tables.version_problem(con)
    assert problem is not None and "(segments: " in problem and "--full-rebuild" in problem
    with pytest.raises(parquet_tables.MissingVersions):
        parquet_tables.repoint(con)
    assert parquet_tables.drop_unreadable(con) == ["segments"]
    assert "segments" not in warehouse_tables(con) and not files[0].parent.exists()  # its folder swept
    parquet_tables.repoint(con)
    assert con.execute("SELECT count(*) FROM suppression").fetchall() == [(3,)]
