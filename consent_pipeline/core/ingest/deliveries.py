"""What has landed: every delivery folder of every source (for the sensor that starts runs)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def delivery_folders(landing: Path, sources: Iterable[str]) -> list[str]:
    """`<source>/<delivery>` of every folder in the landing tree, sorted."""
    found: list[str] = []
    for source in sources:
        root = landing / source
        if root.is_dir():
            found += [f"{source}/{p.name}" for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found)
