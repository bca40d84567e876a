"""Run the job `consent_nightly` in-process on given settings, and summarise what it did."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import AssetKey, DagsterEventType, DagsterInstance, ExecuteInProcessResult
from dagster._core.instance.ref import InstanceRef

from consent_pipeline.config import Settings
from consent_pipeline.definitions import JOB, NightlyConfig, build_definitions
from consent_pipeline.defs.metadata import as_int
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import faults, progress

if TYPE_CHECKING:
    from dagster._core.execution.plan.objects import StepFailureData
    from dagster_shared.error import SerializableErrorInfo

# Warning checks that mean some input was not applied: `--strict` fails on them.
STRICT_WARNINGS = ("landing_held_back", "held_registry_snapshots")


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    seconds: float
    settings: Settings
    checks: list[tuple[str, str, bool, str]] = field(default_factory=list)  # (asset, check, passed, severity)
    # Blocking checks that failed (asset, check, violations, first rows): they stopped the run before the
    # extract folder was published.
    blocked: list[tuple[str, str, int, str]] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)
    error: str = ""  # why the run failed, one line
    # The failure's full text (exception chain and stack) when it is not a known fault: a bug to report.
    error_details: str = ""
    # Each step's (start, end) in Unix seconds, from the run's event log, in the order steps started.
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[tuple[str, str, bool, str]]:
        """Checks that failed with severity ERROR (invariants)."""
        return [c for c in self.checks if not c[2] and c[3] == "ERROR"]

    @property
    def held_back(self) -> list[tuple[str, str, bool, str]]:
        """Warnings that mean input was held back (what `--strict` fails on, besides failed checks)."""
        return [c for c in self.warnings if c[1] in STRICT_WARNINGS]

    @property
    def warnings(self) -> list[tuple[str, str, bool, str]]:
        """Checks that failed with severity WARN (e.g. a feed with many quarantined records)."""
        return [c for c in self.checks if not c[2] and c[3] != "ERROR"]

    def summary(self) -> str:
        s = self.settings
        f = self.figures
        lines = [
            f"run {self.run_id} {'succeeded' if self.success else 'FAILED'} in {self.seconds:.1f}s "
            f"(as of {s.as_of:%Y-%m-%dT%H:%M:%SZ})",
            f"  rows in:      {f.get('rows_read', 0):,} records in {f.get('files', 0):,} new files "
            f"({f.get('accepted', 0):,} accepted, {f.get('duplicate', 0):,} duplicate, "
            f"{f.get('skipped', 0):,} skipped)",
            f"  quarantined:  {f.get('quarantined', 0):,} records this run "
            f"({f.get('quarantine_total', 0):,} rows in quarantine)",
            *(
                [
                    f"  held back:    {f.get('files_quarantined', 0):,} files quarantined whole, "
                    f"{f.get('deliveries_held', 0):,} deliveries held, "
                    f"{f.get('files_noted', 0):,} changed or late files "
                    "(check landing_held_back)"
                ]
                if f.get("landing_report")
                else []
            ),
            f"  event log:    {f.get('events', 0):,} events",
        ]
        if "erased" in f:
            scope = f.get("erasure_scope", -1)
            scrubbed = "every row scrubbed" if scope < 0 else f"rows of {scope:,} new files scrubbed"
            # core/lib/rewrite.py: no erased value left in freed storage (a first build rewrites after erasure)
            if f.get("rewritten") or f.get("rewritten_early"):
                scrubbed += "; warehouse file rewritten"
            lines.append(f"  erasure:      {f['erased']:,} erased contact points ({scrubbed})")
        if "registries" in f:
            held = f.get("registry_held", 0)
            lines.append(
                f"  registries:   {f['registries'] - f.get('registry_stale', 0)} of {f['registries']} fresh, "
                f"{held:,} new {'delivery' if held == 1 else 'deliveries'} not applied"
                + (" (damaged, re-dropped or held: check held_registry_snapshots)" if held else "")
            )
        if "keys" in f:
            lines.append(f"  golden keys:  {f['keys']:,} ({_recomputed(f.get('golden_scope', -1), 'contact points')})")
        if "permissions" in f:
            lines.append(
                f"  permissions:  {f['permissions']:,} keys ({_recomputed(f.get('permission_scope', -1), 'parties')})"
            )
        if "suppression" in f:
            lines.append(
                f"  suppression:  {f['suppression']:,} rows "
                f"({_recomputed(f.get('suppression_scope', -1), 'contact points')})"
            )
        if "opt_outs" in f:
            lines.append(
                f"  audit:        {f['opt_outs']:,} opt-outs judged "
                f"({_recomputed(f.get('audit_scope', -1), 'contact points')})"
            )
        passed = len(self.checks) - len(self.failed_checks) - len(self.warnings)
        lines.append(
            f"  checks:       {passed} passed, {len(self.failed_checks)} failed, {len(self.warnings)} warnings"
        )
        blocking = {(asset, check) for asset, check, *_ in self.blocked}
        lines += [
            f"    FAILED {asset}: {check}" + (" (blocking)" if (asset, check) in blocking else "")
            for asset, check, *_ in self.failed_checks
        ]
        lines += [f"    warning {asset}: {check}" for asset, check, *_ in self.warnings]
        lines.append(f"  warehouse:    {s.warehouse}")
        folder, files = self.extract_files()
        if files:
            total = sum(size for _, _, size in files)
            lines.append(f"  extracts:     {folder} ({len(files)} files, {_size(total)})")
            lines += [f"    {name:42s} {rows:>10,} rows {_size(size):>10s}" for name, rows, size in files]
            not_written, foreign = self.extract_gaps()
            lines += [f"    NOT WRITTEN {name}: {why}" for name, why in not_written]
            if foreign:
                lines.append(f"    kept, not written by the pipeline: {', '.join(foreign)}")
        else:
            lines.append(f"  extracts:     {s.extracts}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)

    def extract_files(self) -> tuple[Path, list[tuple[str, int, int]]]:
        """This run's extract folder and its files (name, rows, bytes) as its manifest lists them."""
        folder = self.settings.extracts / f"{self.settings.as_of:%Y-%m-%d}"
        manifest = folder / "manifest.json"
        if not manifest.exists():
            return folder, []
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("run_id") != self.run_id:
            return folder, []
        return folder, [
            (f["name"], int(f["rows"]), (folder / f["name"]).stat().st_size)
            for f in data.get("files", [])
            if (folder / f["name"]).exists()
        ]

    def extract_gaps(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The files this run's manifest says it could not write (name, why), and the files in the folder
        that the pipeline did not write (kept as they are)."""
        folder = self.settings.extracts / f"{self.settings.as_of:%Y-%m-%d}"
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        listed = {"manifest.json"} | {f["name"] for f in data.get("files", [])}
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in listed and not p.name.startswith("."))
        return [(f["name"], f["error"]) for f in data.get("not_written", [])], foreign


def _recomputed(scope: int, what: str) -> str:
    """How a build went: -1 is a full rebuild, else how many contact points / parties it recomputed."""
    return "rebuilt whole" if scope < 0 else f"recomputed for {scope:,} {what}"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


# The instance settings of a Dagster home the CLI creates (the repository's dagster.yaml without its storage
# paths, which default to the home itself; tests/test_operation.py compares them).
HOME_DAGSTER_YAML = """\
# Written by consent-pipeline for its default Dagster home (see dagster.yaml at the repository root).
concurrency:
  runs:
    tag_concurrency_limits:
      - key: consent/warehouse
        limit: 1
telemetry:
  enabled: false
"""


def _instance(home: Path | None) -> DagsterInstance:
    """The Dagster instance a run is kept in, so that the UI shows it: DAGSTER_HOME's when set, else the one
    in `home` (the default beside the warehouse), else none (ephemeral: in-process runs of the tests)."""
    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()  # with its own dagster.yaml
    if home is None:
        return DagsterInstance.ephemeral()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(HOME_DAGSTER_YAML, encoding="utf-8")
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def run_pipeline(settings: Settings, quiet: bool = False, dagster_home: Path | None = None) -> RunOutcome:
    """Run the job with the settings' paths on its resource and its parameters as run config; the run's
    history is kept in `dagster_home` (None: nowhere)."""
    resource = PipelineResource(
        landing=str(settings.landing),
        warehouse=str(settings.warehouse),
        extracts=str(settings.extracts),
        rules=str(settings.rules),
    )
    night = NightlyConfig(
        as_of=f"{settings.as_of:%Y-%m-%dT%H:%M:%SZ}",
        full_rebuild=settings.full_rebuild,
        confirm_registry_snapshots=list(settings.confirm_registry_snapshots),
        engine=settings.engine,
        spark_master=settings.spark_master,
    )
    # No Dagster event lines on the console: progress comes from lib.progress, and a failed step is summed up
    # in one line (faults.describe). The full event log is kept in DAGSTER_HOME.
    job = build_definitions(resource, console_log_level="CRITICAL").resolve_job_def(JOB)
    progress.enable(not quiet)
    started = time.perf_counter()
    with _instance(dagster_home) as instance:
        result = job.execute_in_process(run_config=night.model_dump(), instance=instance, raise_on_error=False)
        steps = _step_times(instance, result.run_id)
    outcome = RunOutcome(result.success, result.run_id, time.perf_counter() - started, settings, steps=steps)
    for ev in result.get_asset_check_evaluations():
        asset = ev.asset_key.to_user_string()
        outcome.checks.append((asset, ev.check_name, ev.passed, ev.severity.value))
        if not ev.passed and ev.blocking and ev.severity.value == "ERROR":
            meta = ev.metadata
            count = as_int(meta["violations"]) if "violations" in meta else 0
            first = str(meta["first_rows"].value) if "first_rows" in meta else ""
            outcome.blocked.append((asset, ev.check_name, count, first))
    if outcome.blocked:
        outcome.error = _blocked_line(outcome)
    elif not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        if failures:
            _describe_failure(outcome, failures[0].step_key or "?", failures[0].step_failure_data)
        else:
            outcome.error = "the run failed before any step ran"
    outcome.figures = _figures(result)
    return outcome


def _blocked_line(outcome: RunOutcome) -> str:
    """One line: the blocking check that failed, its first violating rows, and what was not published."""
    asset, check, count, first = outcome.blocked[0]
    more = f"{count:,}" + ("+" if count >= 1000 else "") + (" violating row" if count == 1 else " violating rows")
    others = [c for _, c, *_ in outcome.blocked[1:]]
    newest = _newest_extract_folder(outcome.settings.extracts)
    kept = f"the newest is still {newest}" if newest else "there is none yet"
    return (
        f"blocking check {check} failed on {asset} ({more}; first: {first})"
        + (f"; also failed: {', '.join(others)}" if others else "")
        + f"; tonight's extract folder was not published ({kept})"
    )


def _newest_extract_folder(root: Path) -> Path | None:
    try:
        dated = sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 10 and p.name[4] == "-")
    except OSError:
        return None
    return dated[-1] if dated else None


def _describe_failure(outcome: RunOutcome, step: str, data: StepFailureData) -> None:
    chain: list[faults.ErrorLink] = []
    if data.user_failure_data is not None and data.user_failure_data.description:
        chain.append(faults.ErrorLink("Failure", data.user_failure_data.description))
    err: SerializableErrorInfo | None = data.error
    while err is not None and not chain:
        # The user's exception is the innermost cause (Dagster wraps it in its own step error).
        inner = err.cause or err.context
        if inner is None:
            chain.append(faults.ErrorLink(err.cls_name or "Exception", err.message.split(": ", 1)[-1]))
        err = inner
    s = outcome.settings
    outcome.error, known = faults.describe(step, chain, s.memory_limit, s.parse_threads)
    if not known and data.error is not None:
        outcome.error_details = data.error.to_string()


def _step_times(instance: DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None or not entry.step_key:
            continue
        if ev.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif ev.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            ends[entry.step_key] = entry.timestamp
    return {k: (t, ends.get(k, t)) for k, t in sorted(starts.items(), key=lambda kv: kv[1])}


# figure in the summary -> (asset, metadata key) of the run's own materialisations
FIGURES = {
    "files": ("ingest_ledger", "files_this_run"),
    "rows_read": ("ingest_ledger", "rows_read"),
    "accepted": ("ingest_ledger", "accepted"),
    "duplicate": ("ingest_ledger", "duplicate"),
    "skipped": ("ingest_ledger", "skipped"),
    "quarantined": ("ingest_ledger", "quarantined"),
    "landing_report": ("ingest_ledger", "landing_held_back"),
    "files_quarantined": ("ingest_ledger", "files_quarantined_whole"),
    "deliveries_held": ("ingest_ledger", "deliveries_held"),
    "files_noted": ("ingest_ledger", "files_changed_or_late"),
    "quarantine_total": ("quarantine", "dagster/row_count"),
    "events": ("consent_events", "dagster/row_count"),
    "erased": ("erasure_register", "dagster/row_count"),
    "erasure_scope": ("erasure_register", "files_scrubbed"),
    "registries": ("registry_status", "registries_in_use"),
    "registry_stale": ("registry_status", "registries_stale"),
    "registry_held": ("registry_status", "deliveries_not_applied"),
    "keys": ("consent_current", "dagster/row_count"),
    "golden_scope": ("consent_current", "recomputed_contact_points"),
    "identity_scope": ("contact_point_owner", "identity_contact_points"),
    "permissions": ("contact_permission", "dagster/row_count"),
    "permission_scope": ("contact_permission", "recomputed_parties"),
    "suppression": ("suppression", "dagster/row_count"),
    "suppression_scope": ("suppression", "recomputed_contact_points"),
    "opt_outs": ("optout_sla", "dagster/row_count"),
    "audit_scope": ("optout_sla", "recomputed_contact_points"),
    "rewritten": ("snapshot", "warehouse_rewritten"),
    "rewritten_early": ("erasure_register", "warehouse_rewritten"),  # a first build rewrites after erasure
}


def _figures(result: ExecuteInProcessResult) -> dict[str, int]:
    """The summary's figures from the run's own materialisation events (what each asset recorded)."""
    metadata = {
        ev.asset_key.to_user_string(): ev.materialization.metadata
        for ev in result.get_asset_materialization_events()
        if ev.asset_key is not None
    }
    out: dict[str, int] = {}
    for figure, (asset, key) in FIGURES.items():
        value = metadata.get(asset, {}).get(key)
        if value is not None:
            out[figure] = as_int(value)
    return out


__all__ = ["AssetKey", "RunOutcome", "run_pipeline"]
