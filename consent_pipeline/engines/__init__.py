"""Engines a run's SQL steps can run on, chosen by the `engine` setting (`--engine`, CONSENT_ENGINE).

DuckDB is the default and lives with the core (`core/lib/engine.py`); Spark is here, imported only when
chosen, so the project runs without pyspark installed.
"""

from __future__ import annotations

from pathlib import Path

from consent_pipeline.config.settings import ENGINES
from consent_pipeline.core.lib.engine import DUCKDB, Engine


def make_engine(
    name: str, spark_master: str = "", scratch_in: Path | None = None, exchange_in: Path | None = None
) -> Engine:
    """The engine of that name (one of ENGINES); a local Spark keeps its scratch folder in `scratch_in`, and
    Spark exchanges rows as files in `exchange_in` when set (CONSENT_SPARK_EXCHANGE)."""
    if name == "duckdb":
        return DUCKDB
    if name == "spark":
        from consent_pipeline.engines.spark import DEFAULT_MASTER, SparkEngine

        return SparkEngine(spark_master or DEFAULT_MASTER, scratch_in=scratch_in, exchange_in=exchange_in)
    raise ValueError(f"unknown engine {name!r} (one of {', '.join(ENGINES)})")
