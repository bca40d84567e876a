"""How an extract file is written: CSV cells no spreadsheet reads as a formula, ISO times, and a manifest
entry (rows, SHA-256) that matches the bytes on disk."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import duckdb

from consent_pipeline.core.extracts import write_csv


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_cells_that_start_a_formula_are_quoted_except_e164_numbers(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (contact_point VARCHAR, first_name VARCHAR, since TIMESTAMP, n INTEGER)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [
            ("+447700900123", "=HYPERLINK(\"x\")", dt.datetime(2026, 3, 1, 6, 5, 4), 1),
            ("+12", "+cmd", None, 2),  # not a valid E.164 number: defused like any other text
            ("-1@x.com", "@SUM(A1)", dt.datetime(2026, 1, 2), 3),
            ("a@b.com", "\tTab", None, 4),
            ("b@c.com", "\rCR", None, 5),
            ("c@d.com", "Anne, \"Annie\"", None, 6),
            (None, None, None, 7),
        ],
    )
    out = write_csv(con, "SELECT * FROM t ORDER BY n", tmp_path / "x.csv")
    rows = _read(tmp_path / "x.csv")
    assert [(r["contact_point"], r["first_name"], r["since"]) for r in rows] == [
        ("+447700900123", "'=HYPERLINK(\"x\")", "2026-03-01T06:05:04Z"),
        ("'+12", "'+cmd", ""),
        ("'-1@x.com", "'@SUM(A1)", "2026-01-02T00:00:00Z"),
        ("a@b.com", "'\tTab", ""),
        ("b@c.com", "'\rCR", ""),
        ("c@d.com", "Anne, \"Annie\"", ""),
        ("", "", ""),
    ]
    data = (tmp_path / "x.csv").read_bytes()
    assert (out.name, out.rows, out.bytes) == ("x.csv", 7, len(data))
    assert out.sha256 == hashlib.sha256(data).hexdigest()
    assert not list(tmp_path.glob(".*.tmp"))  # written under a temporary name, then renamed


def test_an_empty_extract_still_has_its_header(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    out = write_csv(con, "SELECT 'x' AS contact_point, 1 AS n WHERE false", tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text(encoding="utf-8").splitlines() == ["contact_point,n"]
    assert out.rows == 0
