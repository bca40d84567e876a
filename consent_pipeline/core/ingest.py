"""Read a source's new deliveries into one validated canonical batch (connector -> normalise -> validate)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.core.landing import discover
from consent_pipeline.core.normalise import normalise_batch
from consent_pipeline.core.validate import validate_batch
from source_connectors import connector

log = logging.getLogger(__name__)


def read_source(
    source: str, landing: Path, rules: Rules, ingested_files: Iterable[str] = (), threads: int = 1
) -> Batch:
    """Everything new for one source: its deliveries not ingested before, parsed, normalised, validated,
    with the raw text of every rejected record filled in.

    Deliveries are independent, so they can be parsed on a few `threads` at once: a connector spends most of
    its time in polars, which releases the GIL, but also some in Python between calls, which one thread
    alone leaves a core idle for. Results are joined in delivery order, so the batch is the same."""
    deliveries, problems = discover(landing, source, ingested_files)
    batch = Batch(source)
    batch.reject(problems)
    if deliveries:
        parse = connector(source).parse

        def one(delivery: Delivery) -> Batch:
            try:
                return parse(delivery, rules)
            except Exception as exc:
                failed = Batch(source)
                failed.reject(_connector_error(delivery, exc))
                return failed

        workers = min(threads, len(deliveries))
        if workers > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix=f"parse-{source}") as pool:
                parts = list(pool.map(one, deliveries))
        else:
            parts = [one(d) for d in deliveries]
        for part in parts:
            batch.extend(part)
    normalise_batch(batch)
    validate_batch(batch, rules)
    _fill_raw(batch)
    return batch


# File-level quarantine reasons after which a file is not looked at again (a connector error is retried).
SETTLED_FILE_REASONS = ("bad_delivery_name", "unexpected_file", "file_after_ingest")


def _connector_error(delivery: Delivery, exc: Exception) -> pl.DataFrame:
    """Every file of a delivery the connector failed on, quarantined; it is read again on the next run."""
    log.error("connector %s failed on %s: %s", delivery.source, delivery.name, traceback.format_exc())
    files = [delivery.relative(p) for p in delivery.files()]
    return pl.DataFrame(
        {
            "source_file": files,
            "reason": ["connector_error"] * len(files),
            "detail": [f"{type(exc).__name__}: {exc}"[:500]] * len(files),
            "raw": files,
        }
    )


def _fill_raw(batch: Batch) -> None:
    """Quarantine keeps each rejected record's text: take it from the file's records where not set."""
    rejects = batch.rejects
    need = rejects.filter(pl.col("raw").is_null() & pl.col("source_record").is_not_null())
    if need.height == 0:
        batch.set_rejects(rejects)
        return
    lookups = []
    for (file,), part in need.group_by("source_file"):
        raw = batch.raw.get(file)
        if raw is None:
            continue
        nums = part["source_record"].unique()
        nums = nums.filter((nums >= 1) & (nums <= raw.len()))
        lookups.append(
            pl.DataFrame({"source_file": file, "source_record": nums, "_raw": raw.gather(nums - 1)})
        )
    if lookups:
        found = pl.concat(lookups)
        rejects = rejects.join(found, on=["source_file", "source_record"], how="left", maintain_order="left")
        rejects = rejects.with_columns(pl.coalesce("raw", "_raw").alias("raw")).drop("_raw")
    batch.set_rejects(rejects)
