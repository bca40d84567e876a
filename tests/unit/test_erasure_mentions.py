"""Erasure's search of quarantined text for clear forms of erased values: the regular expressions built from
er_patterns find exactly the records a substring test of every pattern finds, whatever characters the
patterns hold (quotes, regex metacharacters) and however many expressions they need."""

import duckdb

from consent_pipeline.core.lib.sql import values_table
from consent_pipeline.core.privacy.erasure import PATTERNS_PER_REGEX, _mentions

PATTERNS = [
    ("o'brien+x@ex.com", "text"),
    ("a.b(c)[d]*@x.com", "text"),
    ("\\|^$@y.org", "text"),
    ("447700900123", "digits"),
] + [(f"user{i}@ex.com", "text") for i in range(2 * PATTERNS_PER_REGEX + 10)]
RECORDS = [
    (1, "name=o'brien+x@ex.com;", ""),
    (2, "axbcdd@xycom", ""),  # unescaped, a.b(c)[d]*@x.com would match it
    (3, "call 447700900123", "447700900123"),
    (4, "a.b(c)[d]*@x.com", ""),
    (5, "axb(c)[d]*@x.com", ""),
    (6, "\\|^$@y.org", ""),
    (7, f"user{2 * PATTERNS_PER_REGEX + 9}@ex.com", ""),  # in the third expression
    (8, "obrien+x@ex.com", ""),
    (9, "447700900123", ""),  # digits are searched in the digits column only
]


def test_the_expressions_find_what_a_substring_test_finds() -> None:
    con = duckdb.connect()
    values_table(con, "er_patterns", ["pattern", "kind"], PATTERNS)
    values_table(con, "er_open", {"rid": "INTEGER", "low": "VARCHAR", "digits": "VARCHAR"}, RECORDS)
    found = con.execute(f"SELECT rid FROM er_open WHERE {_mentions(con)} ORDER BY rid").fetchall()
    by_contains = con.execute(
        """SELECT DISTINCT rid FROM er_open o JOIN er_patterns p
           ON (p.kind = 'text' AND contains(o.low, p.pattern)) OR (p.kind = 'digits' AND contains(o.digits, p.pattern))
           ORDER BY rid"""
    ).fetchall()
    assert found == by_contains == [(1,), (3,), (4,), (6,), (7,)]


def test_no_patterns_match_nothing() -> None:
    con = duckdb.connect()
    values_table(con, "er_patterns", ["pattern", "kind"], [])
    assert _mentions(con) == "false"
