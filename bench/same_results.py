"""Same results before and after a change: two versions of the code run on the same landing, compared.

    .venv/bin/python bench/same_results.py --before main~3            # a git revision, or a checkout's folder
    .venv/bin/python bench/same_results.py --before 2785c25 --after . --scale 1

Each version runs the CLI (`consent-pipeline run`) over the benchmark's generated landing (cached in
data/bench/, as bench.py makes it), then the next night with 1% new deliveries on the same warehouse (an
incremental run). After each night every contract table of outputs.md and the derived tables later runs build
on are compared row for row with their column types (run ids aside), and every extract file byte for byte
(the manifest without its run id). Exits 1 and lists the differences when anything differs.

Performance work changes how results are computed, never what they are: run this on a scale-1 warehouse
before merging such a change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from landing import delta_landing, landing_for  # noqa: E402  (bench/landing.py, beside this file)

from consent_pipeline.generate.plan import DEFAULT_AS_OF  # noqa: E402
from tests.spark.compare import (  # noqa: E402
    CONTRACT_TABLES,
    DERIVED_TABLES,
    extract_differences,
    table_differences,
)


def checkout(revision: str, work: Path) -> tuple[Path, bool]:
    """A folder holding the code of `revision`: the folder itself when it is one, else a git worktree (made
    here, removed at the end)."""
    folder = Path(revision)
    if (folder / "consent_pipeline").is_dir():
        return folder.resolve(), False
    target = work / f"code-{revision.replace('/', '_').replace('~', '_')}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(target), revision], check=True)
    return target, True


def run_night(code: Path, landing: Path, out: Path, as_of: dt.datetime) -> float:
    """One `consent-pipeline run` of the code in `code` over `landing` into `out` (warehouse, extracts)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    for name in ("CONSENT_LANDING", "CONSENT_WAREHOUSE", "CONSENT_EXTRACTS", "CONSENT_RULES", "CONSENT_AS_OF"):
        env.pop(name, None)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "consent_pipeline.cli",
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(out / "w.duckdb"),
            "--extracts",
            str(out / "extracts"),
            "--rules",
            str(code / "rules"),
            "--as-of",
            as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--quiet",
        ],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 3):
        raise SystemExit(f"same_results: the run of {code} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="a git revision or a checkout's folder")
    ap.add_argument("--after", default=str(ROOT), help="a git revision or a checkout's folder (default: this one)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "bench")
    ap.add_argument("--work", type=Path, help="where warehouses go (default: a temporary folder, removed)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="consent-same-"))
    work.mkdir(parents=True, exist_ok=True)
    as_of = DEFAULT_AS_OF
    landing, _ = landing_for(args.scale, args.seed, args.cache, as_of)
    extra, _ = landing_for(args.scale * 0.01, args.seed + 1, args.cache, as_of + dt.timedelta(days=1), "-delta")
    night2 = work / "landing-next-night"
    shutil.rmtree(night2, ignore_errors=True)
    delta_landing(landing, extra, night2)

    made: list[Path] = []
    found: list[str] = []
    try:
        sides = {}
        for label, revision in (("before", args.before), ("after", args.after)):
            code, is_new = checkout(revision, work)
            if is_new:
                made.append(code)
            sides[label] = code
        for night, (land, when) in enumerate(((landing, as_of), (night2, as_of + dt.timedelta(days=1))), start=1):
            for label, code in sides.items():
                seconds = run_night(code, land, work / label, when)
                print(f"night {night}: {label} ({code}) {seconds:.1f}s", flush=True)
                shutil.copytree(work / label / "extracts", work / f"{label}-extracts-{night}", dirs_exist_ok=True)
            diffs = table_differences(
                work / "before" / "w.duckdb", work / "after" / "w.duckdb", CONTRACT_TABLES + DERIVED_TABLES
            )
            diffs += extract_differences(work / f"before-extracts-{night}", work / f"after-extracts-{night}")
            found += [f"night {night}: {d}" for d in diffs]
            print(f"night {night}: {len(diffs)} differences", flush=True)
    finally:
        for code in made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], check=False)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    for line in found:
        print(line)
    print("same results" if not found else f"{len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
