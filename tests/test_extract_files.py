"""How an extract file is written: CSV cells no spreadsheet reads as a formula, ISO times, and a manifest
entry (rows, SHA-256) that matches the bytes on disk."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import duckdb

from consent_pipeline.core.marketing.extracts import write_csv


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_cells_that_start_a_formula_are_quoted_except_e164_numbers(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (contact_point VARCHAR, first_name VARCHAR, since TIMESTAMP, n INTEGER)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [
            ("+447700900123", '=HYPERLINK("x")', dt.datetime(2026, 3, 1, 6, 5, 4), 1),
            ("+12", "+cmd", None, 2),  # not a valid E.164 number: defused like any other text
            ("-1@x.com", "@SUM(A1)", dt.datetime(2026, 1, 2), 3),
            ("a@b.com", "\tTab", None, 4),
            ("b@c.com", "\rCR", None, 5),
            ("c@d.com", 'Anne, "Annie"', None, 6),
            (None, None, None, 7),
        ],
    )
    out = write_csv(con, "SELECT * FROM t", tmp_path / "x.csv", ["n"])
    rows = _read(tmp_path / "x.csv")
    assert [(r["contact_point"], r["first_name"], r["since"]) for r in rows] == [
        ("+447700900123", '\'=HYPERLINK("x")', "2026-03-01T06:05:04Z"),
        ("'+12", "'+cmd", ""),
        ("'-1@x.com", "'@SUM(A1)", "2026-01-02T00:00:00Z"),
        ("a@b.com", "'\tTab", ""),
        ("b@c.com", "'\rCR", ""),
        ("c@d.com", 'Anne, "Annie"', ""),
        ("", "", ""),
    ]
    data = (tmp_path / "x.csv").read_bytes()
    assert (out.name, out.rows, out.bytes) == ("x.csv", 7, len(data))
    assert out.sha256 == hashlib.sha256(data).hexdigest()
    assert not list(tmp_path.glob(".*.tmp"))  # written under a temporary name, then renamed


def test_an_empty_extract_still_has_its_header(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    out = write_csv(con, "SELECT 'x' AS contact_point, 1 AS n WHERE false", tmp_path / "e.csv", ["n"])
    assert (tmp_path / "e.csv").read_text(encoding="utf-8").splitlines() == ["contact_point,n"]
    assert out.rows == 0


def test_rows_are_in_the_given_order_however_large(tmp_path: Path) -> None:
    """The order is the file's own: DuckDB does not keep a subquery's order through the cell quoting and a
    parallel write (a suppression list at scale 10 came out unsorted every 2,048 rows). Here a million
    shuffled rows shaped like a suppression list come out sorted."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(
        """
        CREATE TABLE t AS
        SELECT CAST(hash(i) % 100000 AS VARCHAR) AS contact_point, sha256(CAST(i AS VARCHAR)) AS h,
               'b' || (i % 3) AS brand, TIMESTAMP '2020-01-01' + INTERVAL (i % 1000) MINUTE AS since
        FROM range(1000000) r(i) ORDER BY hash(i * 7)
        """
    )
    query = (
        "SELECT CASE WHEN contact_point LIKE '9%' THEN NULL ELSE contact_point END AS contact_point, h, brand, "
        "since FROM t WHERE brand <> 'b1'"
    )
    write_csv(con, query, tmp_path / "o.csv", ["h", "brand DESC", "contact_point NULLS FIRST"])
    got = con.execute(f"SELECT h, brand FROM read_csv('{tmp_path / 'o.csv'}', all_varchar = true)").fetchall()
    want = con.execute(f"SELECT h, brand FROM ({query}) ORDER BY h, brand DESC").fetchall()
    assert got == want
