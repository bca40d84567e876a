"""The parse stage alone: every source's files read into a validated canonical batch, timed per source.

    .venv/bin/python bench/parse.py --landing data/bench/scale-10-seed-7/landing [--repeat 3] [--threads 2]
    .venv/bin/python bench/parse.py --landing ... --engine spark [--spark-master 'local[2]']

Runs `read_source` for each feed in this process (the sources assets' work, without Dagster or staging)
and prints seconds per source and in all (the fastest of `--repeat` runs). It also runs from an older
checkout of the project (`PYTHONPATH=<checkout> python bench/parse.py ...`), so the readers of two versions
can be timed on the same files one after the other. With `--engine spark` the connectors run on Spark's
executors, a few tasks a core (the session's start is timed apart, not in the sources' figures).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--rules", type=Path, help="default: the rules/ of the checkout being timed")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--engine", default="duckdb", choices=("duckdb", "spark"))
    ap.add_argument("--spark-master", default="local[2]")
    args = ap.parse_args()

    import consent_pipeline
    from consent_pipeline.config import load_rules
    from consent_pipeline.core.ingest.ingest import read_source
    from source_connectors import SOURCES

    checkout = Path(consent_pipeline.__file__).resolve().parents[1]
    rules = load_rules(args.rules or checkout / "rules")
    engine_kw: dict[str, Any] = {}
    if args.engine == "spark":  # (an older checkout without engines parses in this process only)
        from consent_pipeline.engines import make_engine

        engine = make_engine("spark", args.spark_master)
        started = time.perf_counter()
        engine.map_tasks(len, ["warm", "up"])  # the session and the executors' Python workers started
        print(f"spark session and workers started in {time.perf_counter() - started:.1f} s")
        engine_kw = {"engine": engine}
    best: dict[str, float] = {}
    records: dict[str, int] = {}
    for _ in range(args.repeat):
        for source in SOURCES:
            started = time.perf_counter()
            batch = read_source(source, args.landing, rules, (), args.threads, **engine_kw)
            took = time.perf_counter() - started
            best[source] = min(best.get(source, took), took)
            files = batch.files
            records[source] = int(files["rows_read"].sum()) if files.height else 0
    total = sum(best.values())
    print(f"parse stage of {checkout} on {args.landing} ({args.engine}, fastest of {args.repeat}):")
    for source in SOURCES:
        print(f"  {source:20s} {records[source]:>12,} records {best[source]:8.2f} s")
    print(f"  {'total':20s} {sum(records.values()):>12,} records {total:8.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"checkout": str(checkout), "seconds": best, "records": records}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
