"""The spark tier: skipped where pyspark is not installed, unless CONSENT_TEST_SPARK is `required` or `all`
(scripts/test sets it, so a missing install fails the tier instead of passing it empty; `all` also runs every
public scenario and the generated world, tests/spark/test_parity.py)."""

from __future__ import annotations

import importlib.util
import os

import pytest

# Spark reads spark-defaults.conf from SPARK_CONF_DIR when it starts its JVM (here and in the subprocesses the
# tier starts): the tier's JVM settings, unless the caller chose a folder of their own.
os.environ.setdefault("SPARK_CONF_DIR", os.path.join(os.path.dirname(__file__), "conf"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("pyspark") is not None:
        return
    if os.environ.get("CONSENT_TEST_SPARK") in ("required", "all"):
        raise pytest.UsageError("the spark tier needs pyspark: scripts/setup installs it (pip install '.[spark]')")
    skip = pytest.mark.skip(reason="pyspark is not installed (pip install '.[spark]', Java 17)")
    for item in items:
        if item.path.is_relative_to(os.path.dirname(__file__)):
            item.add_marker(skip)
