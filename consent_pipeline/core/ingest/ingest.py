"""Read a source's new deliveries into one validated canonical batch (connector -> normalise -> validate)."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest.event_times import settle_event_times
from consent_pipeline.core.ingest.landing import Known, discover
from consent_pipeline.core.ingest.normalise import normalise_batch
from consent_pipeline.core.ingest.validate import validate_batch
from consent_pipeline.core.lib.engine import DUCKDB, Engine
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
    engine: Engine = DUCKDB,
) -> Batch:
    """Everything new for one source: the files of its deliveries that this run reads (new ones, ones to
    look at again, ones whose bytes changed), parsed, normalised, validated, with the raw text of every
    rejected record filled in; deliveries dated after `as_of` are held.

    Deliveries are independent, so the engine parses them where it runs work (DuckDB's: on a few `threads` of
    this process; Spark's: on its executors, in a few tasks a core). Results are joined in delivery order, so the
    batch is the same wherever they were parsed."""
    if not isinstance(known, dict):  # a plain list of files read before (tests, older callers)
        known = {f: Known("read", None, None, None) for f in known}
    found = discover(landing, source, known, as_of)
    faults.pause(f"discovered:{source}")
    batch = Batch(source)
    batch.reject(found.problems)
    batch.held.extend(found.held)
    if found.deliveries:
        # the fault point is decided here: an executor's environment is not this process's
        parse = ParseDelivery(rules, faults.failing(f"connector:{source}"))
        for delivery, (part, failure) in zip(
            found.deliveries, engine.map_tasks(parse, found.deliveries, threads), strict=True
        ):
            if failure is not None:
                log.error("connector %s failed on %s: %s", source, delivery.name, failure)
            batch.extend(part)
    settle_event_times(batch)
    normalise_batch(batch)
    validate_batch(batch, rules)
    _fill_raw(batch)
    return batch


class DeliveryNotThere(RuntimeError):
    """A delivery's folder is missing where its connector runs: on a cluster, the executors do not see the
    landing folder (or it was moved during the run). The run stops rather than record every file as failed."""


@dataclass(frozen=True)
class ParseDelivery:
    """What a connector makes of one delivery's files to read, and the traceback when it broke on them (its files
    are then quarantined as `failed`, to be read again by the next run); a task an engine may run elsewhere, so
    it carries its rules and returns its log line rather than logging it."""

    rules: Rules
    inject_fault: bool = False

    def __call__(self, delivery: Delivery) -> tuple[Batch, str | None]:
        if not delivery.path.is_dir():
            raise DeliveryNotThere(
                f"the delivery folder {delivery.path} is not there where the {delivery.source} connector runs "
                "(on a cluster the landing folder must be at the same path on every executor: docs/scale-out.md)"
            )
        try:
            if self.inject_fault:
                raise faults.InjectedFault(f"fault injected at connector:{delivery.source} (CONSENT_FAIL_AT)")
            part = connector(delivery.source).parse(delivery, self.rules)
        except RulesError:
            raise
        except Exception as exc:
            return _connector_error(delivery, exc), traceback.format_exc()
        return _only(part, delivery), None


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
