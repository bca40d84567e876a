"""The run's resource: where it reads and writes, its "now", the company's rules, and the warehouse lock."""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from consent_pipeline.config import Rules, Settings, load_rules
from consent_pipeline.core.ingest import check_file_rules
from consent_pipeline.core.orphans import finish_run, start_run
from consent_pipeline.lib import faults, progress
from consent_pipeline.warehouse import Warehouse
from source_connectors import SOURCES


class PipelineResource(ConfigurableResource):
    """Paths and the as-of time; empty values fall back to CONSENT_* environment variables, then defaults."""

    landing: str = ""
    warehouse: str = ""
    extracts: str = ""
    rules: str = ""
    as_of: str = ""
    full_rebuild: bool = False
    # Held registry snapshots to confirm in this run, each `REGISTRY/DELIVERY` (docs/operations.md).
    confirm_registry_snapshots: list[str] = Field(default_factory=list)
    # The delivery folders that started the run (new_delivery_sensor), for its log only.
    deliveries: list[str] = Field(default_factory=list)

    _settings: Settings | None = PrivateAttr(default=None)
    _rules: Rules | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)
    _completed: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # A run holds the warehouse from start to end: a second run stops at once with a clear message, and
        # so does a run while another process (an auditor's DuckDB session) has the file open.
        wh = Warehouse.of(self.settings)
        wh.acquire()
        if context.run is None:  # a sensor's tick, not a run
            return
        try:
            wh.check_not_in_use()
            cleanup = start_run(wh, self.settings.snapshots, self.settings.staging, SOURCES, context.run.run_id)
        except BaseException:
            wh.release()
            raise
        self._run_id = context.run.run_id
        if cleanup.unfinished_runs:
            progress.report(
                f"earlier run {', '.join(cleanup.unfinished_runs)} did not complete: the warehouse file will be "
                "rewritten at the end of this run"
            )
        if cleanup.removed:
            progress.report(f"removed {len(cleanup.removed)} files left by earlier runs")
            context.log.info(f"removed {', '.join(str(p) for p in cleanup.removed)}")
        faults.pause("run:started")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        wh = Warehouse.of(self.settings)
        try:
            if self._run_id and self._completed:
                finish_run(wh, self._run_id)
        finally:
            wh.release()

    def run_completed(self) -> None:
        """The run's last step succeeded: its `.running` mark can go at the end (core/orphans.py)."""
        self._completed = True

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.resolve(
                landing=self.landing or None,
                warehouse=self.warehouse or None,
                extracts=self.extracts or None,
                rules=self.rules or None,
                as_of=self.as_of or None,
                full_rebuild=self.full_rebuild or None,
                confirm_registry_snapshots=self.confirm_registry_snapshots,
            )
        return self._settings

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
