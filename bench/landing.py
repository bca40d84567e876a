"""The benchmark's landing trees: generated once per scale and seed (cached), and the next night's (the base
plus a generated 1% slice of new deliveries)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

from consent_pipeline.config import load_rules
from consent_pipeline.generate import REPORT_NAME, generate

ROOT = Path(__file__).resolve().parents[1]


def landing_for(scale: float, seed: int, cache: Path, as_of: dt.datetime, label: str = "") -> tuple[Path, float]:
    out = cache / f"scale-{scale:g}-seed-{seed}{label}" / "landing"
    if (out / REPORT_NAME).exists():
        return out, 0.0
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    generate(out, load_rules(ROOT / "rules"), scale=scale, seed=seed, as_of=as_of)
    return out, time.perf_counter() - started


def link_tree(source: Path, target: Path) -> None:
    """The folder's files under `target` as hard links (nothing copied; a copy across file systems): the
    landing reader does not follow symlinks."""
    for path in sorted(f for f in source.rglob("*") if f.is_file()):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)


def delta_landing(base: Path, extra: Path, out: Path) -> None:
    """The base landing plus the extra deliveries (a delivery already in the base is not replaced)."""
    for root in (base, extra):
        for source in sorted(p for p in root.iterdir() if p.is_dir()):
            for delivery in sorted(p for p in source.iterdir() if p.is_dir()):
                target = out / source.name / delivery.name
                if not target.exists():
                    link_tree(delivery, target)
