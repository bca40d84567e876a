"""The profile of the permission stage's heaviest statement: `EXPLAIN ANALYZE` of the whole decision table.

    .venv/bin/python bench/explain.py --warehouse W.duckdb [--as-of 2026-03-01T06:00:00Z]

W is a warehouse a full run built (bench.py --work keeps one: <work>/full/w.duckdb). It is opened read-only:
the permission inputs are built as temporary tables, then the statement that writes contact_permission on a
full build runs into a temporary table under EXPLAIN ANALYZE, and its operator tree (time and rows per
operator) is printed. This is the profile docs/performance.md cites for the permission stage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent_pipeline.config import load_rules  # noqa: E402
from consent_pipeline.core.lib.reference import load_reference  # noqa: E402
from consent_pipeline.core.permissions.permissions import build_permission_inputs, build_permissions  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--as-of", default="2026-03-01T06:00:00Z")
    ap.add_argument("--memory-limit", default="4GB")
    args = ap.parse_args()
    as_of = dt.datetime.fromisoformat(args.as_of.replace("Z", "+00:00")).replace(tzinfo=None)
    rules = load_rules(ROOT / "rules")
    con = duckdb.connect(str(args.warehouse), read_only=True, config={"memory_limit": args.memory_limit})
    started = time.perf_counter()
    load_reference(con, rules)
    build_permission_inputs(con, rules, as_of)
    build_permissions(con, rules, as_of)
    print(f"inputs: {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    plan = con.execute("EXPLAIN ANALYZE CREATE TEMP TABLE profiled AS SELECT * FROM p_permission").fetchall()
    print(f"the decision table: {time.perf_counter() - started:.1f}s")
    for _, text in plan:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
