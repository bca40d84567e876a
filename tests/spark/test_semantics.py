"""Steps whose result hangs on a construct DuckDB and Spark could read differently, on rows the public scenarios
do not hold: the same step over the same hand-made tables gives the same rows on both engines."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from consent_pipeline.core.lib.engine import DUCKDB
from consent_pipeline.core.lib.sql import Step
from consent_pipeline.core.permissions.permissions import RELATIONSHIP
from consent_pipeline.engines.spark import SparkEngine

T = dt.datetime(2026, 1, 31, 10)
# rows exchanged as Parquet files in the scratch folder, however few (small tables go through the driver otherwise)
ENGINE = SparkEngine("local[2]", driver_exchange_rows=0)
# the same session, rows exchanged as Arrow through the driver (as with a remote master) instead of Parquet files
THROUGH_DRIVER = SparkEngine("local[2]", through_driver=True)


def on_both(inputs: dict[str, pl.DataFrame], step: Step) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The step's rows on DuckDB and on Spark (both ways of exchanging rows, brought back typed as DuckDB types
    them), sorted; asserts the two Spark ways agree."""
    out = []
    for engine in (DUCKDB, ENGINE, THROUGH_DRIVER):
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for name, frame in inputs.items():
            con.register("_frame", frame)
            con.execute(f"CREATE TEMP TABLE {name} AS FROM _frame")
            con.unregister("_frame")
        engine.run_steps(con, [step])
        out.append(con.sql(f"FROM {step.name} ORDER BY ALL").pl())
        con.close()
    assert out[1].equals(out[2])
    return out[0], out[1]


def test_relationship_names_the_same_activity_of_a_tie() -> None:
    activity = pl.DataFrame(
        {
            "party_id": ["P1", "P1", "P1", "P1", "P2", "P2"],
            "brand": ["b"] * 6,
            "kind": ["purchase", "purchase", "purchase", "contract_start", "contract_end", "contract_start"],
            "occurred_at": [T, T, T - dt.timedelta(days=1), T, T, T],
            "activity_id": ["A2", "A10", "A9", "C1", "C3", "C2"],
        }
    )
    duck, spark = on_both({"p_activity_party": activity}, RELATIONSHIP)
    assert duck.equals(spark)
    assert duck.select("last_purchase_id", "last_contract_id").rows() == [("A2", "C1"), (None, "C3")]


def test_month_sums_clamp_to_the_month_end_on_both() -> None:
    """`ts + (n) * INTERVAL 1 MONTH` (the windows of p_bases and p_permission) at month ends and leap days."""
    times = pl.DataFrame(
        {
            "ts": [T, dt.datetime(2024, 2, 29, 23, 59, 59), dt.datetime(2025, 3, 31), None],
            "months": [1, 12, -1, 3],
        }
    )
    step = Step(
        "sums",
        "SELECT ts, months, ts + (months) * INTERVAL 1 MONTH AS later, ts + (months) * INTERVAL 1 DAY AS days,"
        " greatest(ts + (months) * INTERVAL 1 MONTH, NULL) AS g FROM times",
    )
    duck, spark = on_both({"times": times}, step)
    assert duck.equals(spark)
    assert duck.filter(pl.col("months") == 1)["later"].to_list() == [dt.datetime(2026, 2, 28, 10)]


def test_a_step_spark_cannot_run_names_itself_and_the_cause() -> None:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE t AS SELECT 1 AS a")
    try:
        ENGINE.run_steps(con, [Step("broken", "SELECT a, CAST('x' AS INTEGER) + no_such_column AS b FROM t")])
    except RuntimeError as e:
        assert str(e).startswith("step broken failed on Spark (local[2]): ")
        assert "no_such_column" in str(e)
    else:
        raise AssertionError("the step ran")
