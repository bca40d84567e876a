"""Finding deliveries in the landing tree: `<landing>/<source>/<YYYY-MM-DDTHHMMSSZ>/<files...>`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import REJECTS, Delivery, empty

DELIVERY_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z$")


def delivery_time(name: str) -> dt.datetime | None:
    """The received time a delivery folder name encodes (naive UTC), or None when it is not one."""
    m = DELIVERY_NAME.match(name)
    if not m:
        return None
    try:
        return dt.datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None


def discover(
    landing: Path, source: str, ingested_files: Iterable[str] = ()
) -> tuple[list[Delivery], pl.DataFrame]:
    """The source's deliveries not ingested before, oldest first, and quarantine rows for what cannot be
    read: one `bad_delivery_name` row per file in a badly named folder, one `file_after_ingest` row per
    file that appeared in a delivery after it was ingested (deliveries are immutable)."""
    ingested = set(ingested_files)
    root = landing / source
    deliveries: list[Delivery] = []
    problems: list[dict[str, object]] = []
    if not root.is_dir():
        return deliveries, empty(REJECTS)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        rel = [f.relative_to(landing).as_posix() for f in files]
        received = delivery_time(folder.name)
        if received is None:
            problems += [
                {
                    "source_file": r,
                    "reason": "bad_delivery_name",
                    "raw": r,
                    "detail": f"delivery folder {folder.name!r} is not YYYY-MM-DDTHHMMSSZ",
                }
                for r in rel
            ]
            continue
        done = [r in ingested for r in rel]
        if any(done):
            problems += [
                {
                    "source_file": r,
                    "reason": "file_after_ingest",
                    "raw": r,
                    "detail": "file appeared in a delivery that was already ingested",
                }
                for r, d in zip(rel, done, strict=True)
                if not d
            ]
            continue
        deliveries.append(Delivery(source, folder.name, received, folder, landing))
    deliveries.sort(key=lambda d: (d.received_ts, d.name))
    frame = pl.DataFrame(problems, schema={k: REJECTS[k] for k in ("source_file", "reason", "raw", "detail")})
    return deliveries, frame


def stray_files(landing: Path, sources: Iterable[str]) -> list[str]:
    """Files or folders directly under the landing root that belong to no known source."""
    if not landing.is_dir():
        return []
    known = set(sources)
    return sorted(p.name for p in landing.iterdir() if p.name not in known and not p.name.startswith("."))
