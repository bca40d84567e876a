"""The connectors on Spark's executors (issue 14): `SparkEngine.map_tasks` runs a picklable function over items in
tasks and gives back what the same calls give in this process, in order, with an exception raised here; and a
source read on the executors is the batch the same source read here is, a connector that breaks there included."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from pyspark import cloudpickle

from consent_pipeline.config import load_rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest.ingest import DeliveryNotThere, ParseDelivery, read_source
from consent_pipeline.core.ingest.landing import discover
from consent_pipeline.core.lib.engine import DUCKDB
from consent_pipeline.engines.spark import SparkEngine
from source_connectors import SOURCES
from tests.acceptance.test_scenarios import SCENARIOS
from tests.helpers import ROOT

LOCAL = SparkEngine("local[2]")
# the same session, results through the driver in pieces (as with a remote master), small pieces to join
THROUGH_DRIVER = SparkEngine("local[2]", through_driver=True)
THROUGH_DRIVER.chunk_bytes = 1000
# this module's functions go to the executors by value: they cannot import the test module by its name
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _text(n: int) -> str:
    return "".join(chr(ord("a") + (n * i) % 26) for i in range(3000 + n))


def _raise_for_three(n: int) -> int:
    if n == 3:
        raise RulesError("rules/files.yaml", "pos.files.stores", "required key is missing")
    return n * n


@pytest.mark.parametrize("engine", [LOCAL, THROUGH_DRIVER], ids=["files", "through-driver"])
def test_tasks_give_the_same_results_in_order(engine: SparkEngine) -> None:
    items = list(range(7))
    assert engine.map_tasks(_text, items) == [_text(n) for n in items]  # each result spans several pieces
    assert engine.map_tasks(_text, []) == []
    with pytest.raises(RulesError) as raised:
        engine.map_tasks(_raise_for_three, items)
    assert (raised.value.file, raised.value.key) == ("rules/files.yaml", "pos.files.stores")


def _frames(batch_source: str, engine: SparkEngine | None) -> dict[str, pl.DataFrame]:
    rules = load_rules(ROOT / "rules")
    batch = read_source(batch_source, SCENARIOS / "formats_and_time" / "landing", rules, engine=engine or DUCKDB)
    frames = {name: batch.table(name) for name in batch.table_names}
    return frames | {"rejects": batch.rejects, "files": batch.files.drop("file_mtime_ns")}


def test_every_source_reads_the_same_on_the_executors() -> None:
    for source in SOURCES:
        here, there = _frames(source, None), _frames(source, LOCAL)
        assert here.keys() == there.keys(), source
        for name, frame in here.items():
            assert frame.equals(there[name]), f"{source}: {name} differs when parsed on Spark"


def test_a_connector_that_breaks_on_an_executor_quarantines_its_files_as_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENT_FAIL_AT", "connector:mailchimp")
    frames = _frames("mailchimp", LOCAL)
    files = frames["files"]
    assert files.height > 0 and set(files["file_status"]) == {"failed"}
    assert set(frames["rejects"]["reason"]) == {"unreadable_file"}
    assert frames["rejects"]["detail"].str.contains("InjectedFault").all()
    assert set(frames) == {"rejects", "files"}, "a broken connector's delivery still gave rows"


def test_a_delivery_the_executors_cannot_see_stops_the_source(tmp_path: Path) -> None:
    """On a cluster whose executors lack the landing folder, every file would otherwise be quarantined as failed
    and the run go on with nothing read: the task raises instead, naming the folder, and the source fails."""
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "formats_and_time" / "landing", landing)
    rules = load_rules(ROOT / "rules")
    deliveries = discover(landing, "mailchimp", {}, None).deliveries
    (landing / "mailchimp").rename(tmp_path / "elsewhere")  # where the executors look, nothing
    with pytest.raises(DeliveryNotThere, match=str(deliveries[0].path)):
        LOCAL.map_tasks(ParseDelivery(rules), deliveries)
