"""The run's resource: where it reads and writes, its "now", the company's rules, and the warehouse lock."""

from __future__ import annotations

import datetime as dt
import os

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    ConfigurableResource,
    InitResourceContext,
)
from pydantic import Field, PrivateAttr

from consent_pipeline.config import Rules, Settings, load_rules
from consent_pipeline.config.settings import ENV
from consent_pipeline.core.ingest.ingest import check_file_rules
from consent_pipeline.core.lib.engine import Engine
from consent_pipeline.core.lib.orphans import finish_run, start_run
from consent_pipeline.engines import make_engine
from consent_pipeline.lib import faults, progress
from consent_pipeline.warehouse import Warehouse
from source_connectors import SOURCES

# The run tag that keeps a run's as-of: a re-execution inherits its parent's tags, so it runs "as of" the same
# time even when no as-of was given (a run launched from the UI).
AS_OF_TAG = "consent/as_of"


class PipelineResource(ConfigurableResource):
    """Paths, and the night's parameters (the job's run config, NightlyConfig in definitions.py, sets them);
    empty values fall back to CONSENT_* environment variables, then defaults."""

    landing: str = ""
    warehouse: str = ""
    extracts: str = ""
    rules: str = ""
    as_of: str = ""
    full_rebuild: bool = False
    # Held registry snapshots to confirm in this run, each `REGISTRY/DELIVERY` (docs/operations.md).
    confirm_registry_snapshots: list[str] = Field(default_factory=list)
    # Where the core's SQL steps run (duckdb or spark) and Spark's master; empty: CONSENT_ENGINE, then duckdb.
    engine: str = ""
    spark_master: str = ""
    # The delivery folders that started the run (new_delivery_sensor), for its log only.
    deliveries: list[str] = Field(default_factory=list)

    _settings: Settings | None = PrivateAttr(default=None)
    _rules: Rules | None = PrivateAttr(default=None)
    _engine: Engine | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)
    _locked: bool = PrivateAttr(default=False)
    _completed: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Nothing here: Dagster also builds the resource to evaluate a sensor, which must never take the run
        # lock nor open the warehouse (a run may hold them). A run takes them in `begin`.
        self._run_id = context.run.run_id if context.run is not None else None

    def begin(self, context: AssetExecutionContext | AssetCheckExecutionContext) -> None:
        """Called first by every asset and check of a run; the first call pins the run's as-of and takes the
        warehouse: the run lock (another run stops at once with a clear message, and so does a run while
        another process, e.g. an auditor's DuckDB session, has the file open), then what earlier runs left is
        cleaned up."""
        if self._locked:
            return
        run = context.run
        self._pin_as_of(context)
        wh = Warehouse.of(self.settings)
        wh.acquire()
        self._locked = True
        try:
            wh.check_not_in_use()
            cleanup = start_run(
                wh,
                self.settings.snapshots,
                self.settings.staging,
                SOURCES,
                run.run_id,
                self.settings.spark_exchange,
                keep_parquet=self.settings.engine == "spark",
                full_rebuild=self.settings.full_rebuild,
            )
            wh.hold_open()  # until the snapshot step or the end of the run (Warehouse.hold_open)
        except BaseException:
            self._locked = False
            wh.release()
            raise
        self._run_id = run.run_id
        context.log.info(f"as of {self.settings.as_of:%Y-%m-%dT%H:%M:%SZ}")
        if self.deliveries:
            context.log.info(f"started for new deliveries: {', '.join(self.deliveries)}")
        if cleanup.unfinished_runs:
            progress.report(
                f"earlier run {', '.join(cleanup.unfinished_runs)} did not complete: the warehouse file will be "
                "rewritten at the end of this run"
            )
        if cleanup.dropped:
            progress.report(
                f"the Parquet versions of {', '.join(cleanup.dropped)} could not be read: rebuilt from the event log"
            )
            context.log.warning(f"unreadable Parquet tables dropped for the full rebuild: {', '.join(cleanup.dropped)}")
        if cleanup.from_parquet:
            progress.report(
                f"turned {len(cleanup.from_parquet)} tables a Spark run kept as Parquet back into DuckDB tables"
            )
        if cleanup.removed:
            progress.report(f"removed {len(cleanup.removed)} files left by earlier runs")
            context.log.info(f"removed {', '.join(str(p) for p in cleanup.removed)}")
        faults.pause("run:started")

    def _pin_as_of(self, context: AssetExecutionContext | AssetCheckExecutionContext) -> None:
        """The run's as-of: its run config's, else the one its tag keeps (a re-execution inherits it), else its
        root run's, else CONSENT_AS_OF, else now; then kept as the run's tag."""
        run, instance = context.run, context.instance
        as_of = self.as_of or run.tags.get(AS_OF_TAG, "")
        if not as_of and run.root_run_id:
            root = instance.get_run_by_id(run.root_run_id)
            as_of = root.tags.get(AS_OF_TAG, "") if root is not None else ""
        as_of = as_of or os.environ.get(ENV["as_of"], "").strip()
        if not as_of:
            as_of = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._settings = None
        settings = self._resolve(as_of)
        pinned = f"{settings.as_of:%Y-%m-%dT%H:%M:%SZ}"
        if run.tags.get(AS_OF_TAG) != pinned:
            instance.add_run_tags(run.run_id, {AS_OF_TAG: pinned})

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if not self._locked:
            return
        wh = Warehouse.of(self.settings)
        try:
            if self._run_id and self._completed:
                finish_run(wh, self._run_id)
        finally:
            self._locked = False
            try:
                wh.let_close()
            finally:
                wh.release()

    def run_completed(self) -> None:
        """The run's last step succeeded: its `.running` mark can go at the end (core/lib/orphans.py)."""
        self._completed = True

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._resolve(self.as_of or None)
        assert self._settings is not None
        return self._settings

    def _resolve(self, as_of: str | None) -> Settings:
        self._settings = Settings.resolve(
            landing=self.landing or None,
            warehouse=self.warehouse or None,
            extracts=self.extracts or None,
            rules=self.rules or None,
            as_of=as_of,
            full_rebuild=self.full_rebuild or None,
            confirm_registry_snapshots=self.confirm_registry_snapshots,
            engine=self.engine or None,
            spark_master=self.spark_master or None,
        )
        return self._settings

    @property
    def engine_in_use(self) -> Engine:
        """Where the stages' SQL steps and the connectors run (the `engine` setting); a Spark session starts on first
        use."""
        if self._engine is None:
            settings = self.settings
            self._engine = make_engine(
                settings.engine, settings.spark_master, settings.warehouse.parent, settings.spark_exchange
            )
        return self._engine

    @property
    def company_rules(self) -> Rules:
        if self._rules is None:
            rules = load_rules(self.settings.rules)
            check_file_rules(rules)
            self._rules = rules
        return self._rules

    @property
    def db(self) -> Warehouse:
        return Warehouse.of(self.settings)
