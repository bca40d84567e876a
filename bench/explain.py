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
import json
import sys
import time
from pathlib import Path
from typing import Any

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
    plan = con.execute(
        "EXPLAIN (ANALYZE, FORMAT JSON) CREATE TEMP TABLE profiled AS SELECT * FROM p_permission"
    ).fetchall()
    print(f"the decision table: {time.perf_counter() - started:.1f}s (operators by own time, slowest first)")
    operators: list[tuple[float, int, str, int]] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        extra = node.get("extra_info") or {}
        detail = str(extra.get("Table") or extra.get("Conditions") or "") if isinstance(extra, dict) else ""
        name = f"{node.get('type', '?')} {detail}".strip().replace("\n", " ")[:100]
        operators.append((float(node.get("timing") or 0.0), int(node.get("intermediate_rows") or 0), name, depth))
        for child in node.get("children") or []:
            walk(child, depth + 1)

    for root in json.loads(plan[0][1]).get("operator", []):
        walk(root, 0)
    total = sum(t for t, *_ in operators) or 1.0
    for timing, rows, name, depth in sorted(operators, reverse=True)[:15]:
        print(f"  {timing:7.2f}s {100 * timing / total:4.0f}%  {rows:>12,} rows  depth {depth:2d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
