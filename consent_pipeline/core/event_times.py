"""Events without a usable source time (feeds.md "Real files are messy"): an opt-out is never dropped.

A connector hands over an event whose time it could not read with a null `event_ts` (and what it read in
`time_detail`). An opt-out then takes effect at its delivery's `received_ts`, the latest moment it can have
been given, marked `event_ts_estimated` and dated at its first sighting (a later delivery of the same
record is a duplicate, not a later opt-out). An opt-in or pending consent without a usable time is
quarantined (`bad_timestamp`). An opt-out whose time is out of range (after its delivery plus the
tolerance, or before 1990) is kept the same way, with a quarantine row saying what was wrong: a garbled
date must not cost the customer's opt-out, and can never date it after the delivery that brought it.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import REJECTS, Batch, conform
from consent_pipeline.core.validate import EARLIEST, MAX_AHEAD

OPT_OUT = "opt_out"


def settle_event_times(batch: Batch) -> None:
    if "events" not in batch.table_names:
        return
    frame = batch.table("events")
    ts, received = pl.col("event_ts"), pl.col("received_ts")
    opt_out = pl.col("status") == OPT_OUT
    missing = ts.is_null()
    ahead = ts > received + MAX_AHEAD
    early = ts < EARLIEST
    frame = frame.with_columns(
        missing.alias("_missing"), (ahead | early).fill_null(False).alias("_range"), opt_out.alias("_out")
    )
    rejects = []
    no_time = frame.filter(pl.col("_missing") & ~pl.col("_out").fill_null(False))
    if no_time.height:
        rejects.append(
            no_time.select(
                "source_file",
                "source_record",
                pl.lit("bad_timestamp").alias("reason"),
                pl.coalesce(pl.col("time_detail"), pl.lit("the event's time is empty")).alias("detail"),
                pl.col("party_id"),
            )
        )
    out_of_range = frame.filter(pl.col("_range") & pl.col("_out").fill_null(False))
    if out_of_range.height:
        rejects.append(
            out_of_range.select(
                "source_file",
                "source_record",
                pl.when(pl.col("event_ts") < EARLIEST)
                .then(pl.lit("timestamp_before_1990"))
                .otherwise(pl.lit("future_timestamp"))
                .alias("reason"),
                pl.format(
                    "{}: the opt-out is kept at its delivery's time", pl.col("event_ts").dt.to_string()
                ).alias("detail"),
                pl.col("party_id"),
            )
        )
    estimate = (pl.col("_missing") | pl.col("_range")) & pl.col("_out").fill_null(False)
    frame = (
        frame.filter(~(pl.col("_missing") & ~pl.col("_out").fill_null(False)))
        .with_columns(
            pl.when(estimate).then(received).otherwise(ts).alias("event_ts"),
            (estimate | pl.col("event_ts_estimated").fill_null(False)).alias("event_ts_estimated"),
            (estimate | pl.col("first_sighting").fill_null(False)).alias("first_sighting"),
        )
        .drop("_missing", "_range", "_out")
    )
    batch.set_table("events", frame)
    for r in rejects:
        batch.reject(conform(r, REJECTS))
