"""Read a source's new deliveries into one validated canonical batch (connector -> normalise -> validate)."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest.event_times import settle_event_times
from consent_pipeline.core.ingest.landing import Known, discover
from consent_pipeline.core.ingest.normalise import normalise_batch
from consent_pipeline.core.ingest.validate import validate_batch
from consent_pipeline.lib import faults
from source_connectors import SOURCES, connector, file_kinds

log = logging.getLogger(__name__)


def read_source(
    source: str,
    landing: Path,
    rules: Rules,
    known: dict[str, Known] | list[str] | tuple[str, ...] = (),
    threads: int = 1,
    as_of: dt.datetime | None = None,
) -> Batch:
    """Everything new for one source: the files of its deliveries that this run reads (new ones, ones to
    look at again, ones whose bytes changed), parsed, normalised, validated, with the raw text of every
    rejected record filled in; deliveries dated after `as_of` are held.

    Deliveries are independent, so they can be parsed on a few `threads` at once: a connector spends most of
    its time in polars, which releases the GIL, but also some in Python between calls, which one thread
    alone leaves a core idle for. Results are joined in delivery order, so the batch is the same."""
    if not isinstance(known, dict):  # a plain list of files read before (tests, older callers)
        known = {f: Known("read", None, None, None) for f in known}
    found = discover(landing, source, known, as_of)
    batch = Batch(source)
    batch.reject(found.problems)
    batch.held.extend(found.held)
    if found.deliveries:
        parse = connector(source).parse

        def one(delivery: Delivery) -> Batch:
            try:
                faults.fail(f"connector:{source}")
                part = parse(delivery, rules)
            except RulesError:
                raise
            except Exception as exc:
                part = _connector_error(delivery, exc)
            return _only(part, delivery)

        workers = min(threads, len(found.deliveries))
        if workers > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix=f"parse-{source}") as pool:
                parts = list(pool.map(one, found.deliveries))
        else:
            parts = [one(d) for d in found.deliveries]
        for part in parts:
            batch.extend(part)
    settle_event_times(batch)
    normalise_batch(batch)
    validate_batch(batch, rules)
    _fill_raw(batch)
    return batch


def check_file_rules(rules: Rules) -> None:
    """Every kind of file each connector reads has its patterns in rules/files.yaml (RulesError naming the
    key otherwise): checked when a run starts, before anything is read."""
    for source in SOURCES:
        spec = rules.source_files(source)
        for kind in file_kinds(source, rules):
            if kind not in spec.files:
                raise RulesError(rules.files_path, f"{source}.files.{kind}", "required key is missing")
        for kind in spec.files:
            if kind not in file_kinds(source, rules):
                raise RulesError(
                    rules.files_path,
                    f"{source}.files.{kind}",
                    f"unknown kind (the {source} connector reads: {', '.join(file_kinds(source, rules))})",
                )
    for source in rules.files:
        if source not in SOURCES:
            raise RulesError(rules.files_path, source, f"unknown source (known: {', '.join(SOURCES)})")


# File-level quarantine reasons of files without a ledger row that a run does not look at again.
SETTLED_FILE_REASONS = ("bad_delivery_name",)


def _only(part: Batch, delivery: Delivery) -> Batch:
    """What a connector made of the files this run reads (it parses a whole delivery, and may open files
    read before for context, e.g. a POS delivery's stores.csv)."""
    if delivery.only is None:
        return part
    only = sorted(delivery.only)
    return part.restricted_to(only)


def _connector_error(delivery: Delivery, exc: Exception) -> Batch:
    """A connector that broke on a delivery (a bug, not bad input: readers never raise on content): every
    file to read is quarantined and marked `failed`, so the next run reads it again."""
    log.error("connector %s failed on %s: %s", delivery.source, delivery.name, traceback.format_exc())
    failed = Batch(delivery.source)
    for path in delivery.all_files():
        rel = failed.read_file(delivery, path, 0, None, "failed")
        failed.reject(
            pl.DataFrame(
                {
                    "source_file": [rel],
                    "reason": ["unreadable_file"],
                    "detail": [f"the {delivery.source} connector failed ({type(exc).__name__}: {exc})"[:500]],
                    "raw": [rel],
                }
            )
        )
    return failed


def _fill_raw(batch: Batch) -> None:
    """Quarantine keeps each rejected record's text: take it from the file's records where not set."""
    rejects = batch.rejects
    need = rejects.filter(pl.col("raw").is_null() & pl.col("source_record").is_not_null())
    if need.height == 0:
        batch.set_rejects(rejects)
        return
    lookups: list[pl.DataFrame] = []
    for (file,), part in need.group_by("source_file"):
        raw = batch.raw.get(file)
        if raw is None:
            continue
        nums = part["source_record"].unique()
        nums = nums.filter((nums >= 1) & (nums <= raw.len()))
        lookups.append(pl.DataFrame({"source_file": file, "source_record": nums, "_raw": raw.gather(nums - 1)}))
    if lookups:
        found = pl.concat(lookups)
        rejects = rejects.join(found, on=["source_file", "source_record"], how="left", maintain_order="left")
        rejects = rejects.with_columns(pl.coalesce("raw", "_raw").alias("raw")).drop("_raw")
    batch.set_rejects(rejects)
