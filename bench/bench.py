"""Benchmark: the full pipeline against the physical floor, per stage, and a 1% delta run.

    .venv/bin/python bench/bench.py --scale 1            # scale 10: about 10M source records

1. Generates landing data for the scale (cached in data/bench/, reused when present).
2. Runs the whole pipeline into a fresh warehouse and reports wall time and peak memory per stage (each
   Dagster step; memory sampled from /proc every 50 ms).
3. Measures, in the same process, the floor (bench/floor.py): the faster of DuckDB and polars reading each
   group of landing files, plus one latest-per-key pass over the run's events. Prints full / floor.
4. Adds 1% new deliveries (a generated slice one day later) to a copy of the warehouse and times the next
   run against the full run.
5. With `--erasure-night`: a full run over the landing without any erasure, then the 1% night twice from
   copies of it, without and with the slice's erasure requests, and prints with / without. A night with an
   erasure scrubs every row and rewrites the warehouse file (core/lib/rewrite.py); one without scrubs only the
   new rows and leaves the file.

Prints a table; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from floor import describe, measure  # noqa: E402  (bench/floor.py, beside this file)
from landing import delta_landing, landing_for, link_tree  # noqa: E402

from consent_pipeline.config import Settings  # noqa: E402
from consent_pipeline.generate import REPORT_NAME  # noqa: E402
from consent_pipeline.generate.plan import DEFAULT_AS_OF  # noqa: E402
from consent_pipeline.run import RunOutcome, run_pipeline  # noqa: E402


class RssSampler:
    """Resident memory of this process, sampled in a thread: (time, bytes) pairs."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.rss()))
            time.sleep(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        inside = [b for t, b in self.samples if start <= t <= end]
        return max(inside, default=0)


def run(
    landing: Path, warehouse: Path, as_of: dt.datetime, engine: str = "duckdb", spark_master: str = ""
) -> tuple[RunOutcome, RssSampler]:
    settings = Settings.resolve(
        landing=landing,
        warehouse=warehouse,
        extracts=warehouse.parent / "extracts",
        rules=ROOT / "rules",
        as_of=as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        engine=engine,
        spark_master=spark_master or None,
    )
    with RssSampler() as sampler:
        outcome = run_pipeline(settings, quiet=True)
    if not outcome.success:
        raise SystemExit(f"bench: the run failed: {outcome.error}")
    return outcome, sampler


# A Salesforce Individual row, the fourth field (ShouldForget) set.
SHOULD_FORGET = re.compile(rb'^("[^"]*","[^"]*","[^"]*"),"true",', re.MULTILINE)


def without_erasures(landing: Path, out: Path) -> None:
    """The landing tree without any erasure: no erasure-request deliveries, and Salesforce's ShouldForget
    cleared (the Individual files rewritten; everything else linked)."""
    for source in sorted(p for p in landing.iterdir() if p.is_dir() and p.name != "erasure_requests"):
        link_tree(source, out / source.name)
        for path in sorted((out / source.name).rglob("Individual*.csv")):
            data = path.read_bytes()
            path.unlink()  # a hard link: the cached landing must not change
            path.write_bytes(SHOULD_FORGET.sub(rb'\1,"false",', data))


def rewrite_state(warehouse: Path, run_id: str) -> tuple[bool, int]:
    """Whether the run rewrote the warehouse file, and how many contact points are erased."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        erased = con.sql("SELECT count(*) FROM erasure_register").fetchall()[0][0]
        tables = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "warehouse_rewrite" not in tables:  # nothing was ever scrubbed
            return False, int(erased)
        rewritten = con.sql("SELECT count(*) FROM warehouse_rewrite WHERE rewritten_by_run = ?", params=[run_id])
        return bool(rewritten.fetchall()[0][0]), int(erased)
    finally:
        con.close()


class Stage(TypedDict):
    stage: str
    seconds: float
    peak_rss: int  # bytes


@dataclass
class Night:
    seconds: float
    peak_rss: int
    erasure_scope: int  # -1: every row scrubbed, else the number of new files whose rows were
    erased_contact_points: int
    rewritten: bool
    warehouse_bytes: int
    stages: list[Stage]


def erasure_nights(landing: Path, extra: Path, work: Path, as_of: dt.datetime) -> dict[str, Night]:
    """The delta night without and with the slice's erasure requests, each from a copy of one full run over
    the landing without any erasure.

    Starting from a warehouse that has erased no one keeps the night without erasure requests free of
    erasure: the generated slice is a population of its own whose customer ids and (fictional-range) phone
    numbers overlap the base's, so over a warehouse with erasures it would bring rows of erased customers and
    numbers every night, which are scrubbed and make that night rewrite the file too."""
    base = work / "landing-without-erasures"
    shutil.rmtree(base, ignore_errors=True)
    without_erasures(landing, base)
    start_dir = work / "full-without-erasures"
    shutil.rmtree(start_dir, ignore_errors=True)
    start_dir.mkdir()
    outcome, _ = run(base, start_dir / "w.duckdb", as_of - dt.timedelta(days=1))
    print(f"\nfull run without erasures (the nights' starting point): {outcome.seconds:.1f}s")
    plain = work / "slice-without-erasures"
    shutil.rmtree(plain, ignore_errors=True)
    for source in sorted(p for p in extra.iterdir() if p.is_dir() and p.name != "erasure_requests"):
        link_tree(source, plain / source.name)
    nights: dict[str, Night] = {}
    for label, slice_ in (("without", plain), ("with", extra)):
        night = work / f"night-{label}-erasure"
        shutil.rmtree(night, ignore_errors=True)
        shutil.copytree(start_dir, night, ignore=shutil.ignore_patterns("extracts"))
        nl = work / f"night-{label}-erasure-landing"
        shutil.rmtree(nl, ignore_errors=True)
        delta_landing(base, slice_, nl)
        outcome, sampler = run(nl, night / "w.duckdb", as_of)
        rewritten, erased = rewrite_state(night / "w.duckdb", outcome.run_id)
        nights[label] = Night(
            outcome.seconds,
            sampler.peak(),
            int(outcome.figures.get("erasure_scope", -1)),
            erased,
            rewritten,
            (night / "w.duckdb").stat().st_size,
            stage_table(outcome, sampler),
        )
        shutil.rmtree(night, ignore_errors=True)
    shutil.rmtree(start_dir, ignore_errors=True)
    return nights


def print_nights(nights: dict[str, Night]) -> float:
    ratio = nights["with"].seconds / nights["without"].seconds
    print("\nthe delta night without and with its erasure requests:")
    print(f"  {'stage':34s} {'without':>8s} {'with':>8s}")
    without = {st["stage"]: st["seconds"] for st in nights["without"].stages}
    for st in nights["with"].stages:
        print(f"  {st['stage']:34s} {without.get(st['stage'], 0.0):8.1f} {st['seconds']:8.1f}")
    for label, n in nights.items():
        scope = "every row scrubbed" if n.erasure_scope < 0 else f"rows of {n.erasure_scope} new files scrubbed"
        print(
            f"  {label} erasure: {n.seconds:.1f}s, {n.erased_contact_points:,} erased contact points, {scope}, "
            f"warehouse file {'rewritten' if n.rewritten else 'not rewritten'} ({gib(n.warehouse_bytes)})"
        )
    print(f"with / without: {ratio:.2f}x (target: at most 2x)")
    return ratio


def stage_table(outcome: RunOutcome, sampler: RssSampler) -> list[Stage]:
    stages: list[Stage] = []
    sources = [(k, v) for k, v in outcome.steps.items() if k.startswith("source__")]
    if sources:  # the fifteen source steps as one stage: "parse feeds"
        start, end = min(v[0] for _, v in sources), max(v[1] for _, v in sources)
        stages.append(
            {
                "stage": "parse feeds (15 sources)",
                "seconds": sum(v[1] - v[0] for _, v in sources),
                "peak_rss": sampler.peak(start, end),
            }
        )
    for key, (start, end) in outcome.steps.items():
        if not key.startswith("source__"):
            stages.append({"stage": key, "seconds": end - start, "peak_rss": sampler.peak(start, end)})
    return stages


def delta_run(
    args: argparse.Namespace,
    landing: Path,
    full_dir: Path,
    delta_dir: Path,
    as_of: dt.datetime,
    engine: str = "duckdb",
    spark_master: str = "",
) -> tuple[RunOutcome, RssSampler]:
    """The next day's run with 1% new deliveries, on a copy of the full run's warehouse."""
    extra, _ = landing_for(args.scale * 0.01, args.seed + 1, args.cache, as_of + dt.timedelta(days=1), "-delta")
    shutil.rmtree(delta_dir, ignore_errors=True)
    shutil.copytree(full_dir, delta_dir, ignore=shutil.ignore_patterns("extracts"))
    dl = delta_dir.parent / "delta-landing"
    shutil.rmtree(dl, ignore_errors=True)
    delta_landing(landing, extra, dl)
    return run(dl, delta_dir / "w.duckdb", as_of + dt.timedelta(days=1), engine, spark_master)


def spark_runs(
    args: argparse.Namespace, landing: Path, work: Path, as_of: dt.datetime, duck: RunOutcome, duck_stages: list[Stage]
) -> dict[str, object]:
    """The full run again with --engine spark (a session started first and timed on its own), its stages beside
    DuckDB's, and (unless --no-delta) its 1% delta run."""
    from consent_pipeline.engines.spark import DEFAULT_MASTER, spark_session

    master = args.spark_master or DEFAULT_MASTER
    started = time.perf_counter()
    spark_session(master)
    session_s = time.perf_counter() - started
    spark_dir = work / "spark"
    shutil.rmtree(spark_dir, ignore_errors=True)
    spark_dir.mkdir()
    outcome, sampler = run(landing, spark_dir / "w.duckdb", as_of, "spark", master)
    stages = stage_table(outcome, sampler)
    by_stage = {st["stage"]: st["seconds"] for st in stages}
    print(
        f"\nspark ({master}): session start {session_s:.1f}s, then the full run {outcome.seconds:.1f}s "
        f"(DuckDB {duck.seconds:.1f}s), peak memory of this process {gib(sampler.peak())} (the JVM's not counted)"
    )
    print(f"  {'stage':34s} {'duckdb s':>9s} {'spark s':>9s}")
    for st in duck_stages:
        print(f"  {st['stage']:34s} {st['seconds']:9.1f} {by_stage.get(st['stage'], float('nan')):9.1f}")
    figures: dict[str, object] = {
        "master": master,
        "session_s": session_s,
        "full_s": outcome.seconds,
        "stages": stages,
    }
    if not args.no_delta:
        d_outcome, _ = delta_run(args, landing, spark_dir, work / "spark-delta", as_of, "spark", master)
        figures["delta_s"] = d_outcome.seconds
        print(
            f"  spark delta run: {d_outcome.seconds:.1f}s = "
            f"{100 * d_outcome.seconds / outcome.seconds:.0f}% of its full run"
        )
    return figures


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "bench")
    ap.add_argument("--work", type=Path, help="where warehouses go (default: a temporary folder)")
    ap.add_argument("--no-delta", action="store_true", help="skip the 1%% delta run")
    ap.add_argument(
        "--erasure-night",
        action="store_true",
        help="also time the delta night without and with its erasure requests (the target: with <= 2x without)",
    )
    ap.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: also run the full (and delta) run with --engine spark and print its stages beside DuckDB's",
    )
    ap.add_argument("--spark-master", default="", help="Spark master for --engine spark (default local[*])")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--profile", action="store_true", help="also print each SQL step's time (stderr)")
    args = ap.parse_args()
    if args.profile:
        logging.basicConfig(format="  %(name)s %(message)s", stream=sys.stderr)
        logging.getLogger("consent_pipeline").setLevel(logging.DEBUG)
    as_of = DEFAULT_AS_OF
    work = args.work or Path(tempfile.mkdtemp(prefix="consent-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    landing, gen_s = landing_for(args.scale, args.seed, args.cache, as_of)
    report = json.loads((landing / REPORT_NAME).read_text())
    print(
        f"landing: {landing} ({report['total_records']:,} records, {report['files']:,} files"
        + (f", generated in {gen_s:.1f}s)" if gen_s else ", cached)")
    )

    full_dir = work / "full"
    shutil.rmtree(full_dir, ignore_errors=True)
    full_dir.mkdir()
    outcome, sampler = run(landing, full_dir / "w.duckdb", as_of)
    stages = stage_table(outcome, sampler)
    print(f"\nfull run: {outcome.seconds:.1f}s, peak memory {gib(sampler.peak())}")
    print(f"  {'stage':34s} {'seconds':>8s} {'peak memory':>12s}")
    for st in stages:
        print(f"  {st['stage']:34s} {st['seconds']:8.1f} {gib(st['peak_rss']):>12s}")
    sources = sorted(
        ((k.removeprefix("source__"), v[1] - v[0]) for k, v in outcome.steps.items() if k.startswith("source__")),
        key=lambda kv: -kv[1],
    )
    print("  sources: " + ", ".join(f"{name} {sec:.1f}s" for name, sec in sources))
    sys.stdout.flush()
    fl = measure(landing, full_dir / "w.duckdb")
    figures: dict[str, object] = {
        "scale": args.scale,
        "records": report["total_records"],
        "full_s": outcome.seconds,
        "peak_rss": sampler.peak(),
        "stages": stages,
        "sources": {
            k.removeprefix("source__"): v[1] - v[0] for k, v in outcome.steps.items() if k.startswith("source__")
        },
        "floor": fl.as_dict(),
        "ratio": outcome.seconds / fl.floor_s,
    }
    print("\n" + describe(fl))
    print(f"full / floor: {figures['ratio']:.1f}x")

    if args.engine == "spark":
        figures["spark"] = spark_runs(args, landing, work, as_of, outcome, stages)

    if not args.no_delta:
        d_outcome, d_sampler = delta_run(args, landing, full_dir, work / "delta", as_of)
        figures["delta_s"] = d_outcome.seconds
        figures["delta_records"] = d_outcome.figures.get("rows_read", 0)
        figures["delta_ratio"] = d_outcome.seconds / outcome.seconds
        print(
            f"\ndelta run (+{figures['delta_records']:,} records in new deliveries): {d_outcome.seconds:.1f}s = "
            f"{100 * d_outcome.seconds / outcome.seconds:.0f}% of the full run, peak memory {gib(d_sampler.peak())}"
        )
        for st in stage_table(d_outcome, d_sampler):
            print(f"  {st['stage']:34s} {st['seconds']:8.1f}")
    if args.erasure_night:
        extra, _ = landing_for(args.scale * 0.01, args.seed + 1, args.cache, as_of + dt.timedelta(days=1), "-delta")
        nights = erasure_nights(landing, extra, work, as_of + dt.timedelta(days=1))
        figures["erasure_nights"] = {label: asdict(n) for label, n in nights.items()}
        figures["erasure_night_ratio"] = print_nights(nights)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
