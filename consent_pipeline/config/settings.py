"""Where a run reads and writes, and its 'now': command-line values, else environment, else defaults."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "landing": "data/landing",
    "warehouse": "data/warehouse/consent.duckdb",
    "extracts": "data/extracts",
    "rules": "rules",
}
ENV = {
    "landing": "CONSENT_LANDING",
    "warehouse": "CONSENT_WAREHOUSE",
    "extracts": "CONSENT_EXTRACTS",
    "rules": "CONSENT_RULES",
    "as_of": "CONSENT_AS_OF",
    "full_rebuild": "CONSENT_FULL_REBUILD",
}


def parse_utc(text: str) -> dt.datetime:
    """An ISO 8601 time (with Z, an offset, or none meaning UTC) as a naive UTC datetime."""
    value = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1) if "T" not in text else text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    extracts: Path
    rules: Path
    as_of: dt.datetime  # naive UTC: the run's "now" for every time-dependent rule
    # Recompute every golden key and permission instead of only those that can have changed (the result is
    # the same; this is for after a manual repair of the warehouse).
    full_rebuild: bool = False
    # A full permissions build goes by batches of this many parties (CONSENT_PERMISSION_BATCH_PARTIES): one
    # batch up to about 50M permission rows; more keep a very large run's joins in memory.
    permission_batch_parties: int = 2_000_000
    # Deliveries of one source parsed at once (CONSENT_PARSE_THREADS; default one per core, at most 4).
    parse_threads: int = 1
    # Held registry snapshots the operator confirms in this run, as `REGISTRY/DELIVERY` (core/registries.py).
    confirm_registry_snapshots: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls,
        landing: str | Path | None = None,
        warehouse: str | Path | None = None,
        extracts: str | Path | None = None,
        rules: str | Path | None = None,
        as_of: str | dt.datetime | None = None,
        full_rebuild: bool | None = None,
        confirm_registry_snapshots: tuple[str, ...] | list[str] = (),
    ) -> Settings:
        given = {"landing": landing, "warehouse": warehouse, "extracts": extracts, "rules": rules}
        paths = {
            key: Path(value if value is not None else os.environ.get(ENV[key]) or DEFAULTS[key])
            for key, value in given.items()
        }
        if as_of is None:
            as_of = os.environ.get(ENV["as_of"]) or None
        if isinstance(as_of, str):
            when = parse_utc(as_of)
        elif isinstance(as_of, dt.datetime):
            when = as_of.astimezone(dt.UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
        else:
            when = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        if full_rebuild is None:
            full_rebuild = os.environ.get(ENV["full_rebuild"], "").strip().lower() in ("1", "true", "yes")
        batch = int(os.environ.get("CONSENT_PERMISSION_BATCH_PARTIES") or 2_000_000)
        threads = max(1, int(os.environ.get("CONSENT_PARSE_THREADS") or min(4, os.cpu_count() or 1)))
        return cls(
            as_of=when,
            full_rebuild=full_rebuild,
            permission_batch_parties=batch,
            parse_threads=threads,
            confirm_registry_snapshots=tuple(confirm_registry_snapshots),
            **paths,
        )

    @property
    def snapshots(self) -> Path:
        return self.warehouse.parent / "snapshots"

    @property
    def staging(self) -> Path:
        """Canonical batches between the source assets and the event log (cleared after each ingest)."""
        return self.warehouse.parent / "staging"
