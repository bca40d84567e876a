"""Running the worlds and checking cases: each run of `cases.RUNS` is made at most once per session, the first
time a test asks for it, and its `contact_permission` table is read into memory, so every parametrized case
is a dictionary look-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import rows, run
from tests.permissions.cases import RUNS, Case
from tests.permissions.world import iso

Key = tuple[str, str, str, str, str]  # party_id, contact_point, channel, purpose, brand


@dataclass(frozen=True)
class Row:
    allowed: bool
    reason: str
    region: str
    decided_by: str | None
    valid_until: dt.datetime | None


@dataclass
class Outcome:
    """What one run decided: every permission row, and the source id behind every event and activity."""

    name: str
    as_of: dt.datetime
    warehouse: Path
    permissions: dict[Key, Row] = field(default_factory=dict)
    source_ids: dict[str, str] = field(default_factory=dict)  # event_id / row id -> the source's own id

    def row(self, case: Case) -> Row:
        key = (case.party_id, case.contact_point, case.channel, case.purpose, case.brand)
        found = self.permissions.get(key)
        if found is None:
            near = sorted(k for k in self.permissions if k[0] == case.party_id)
            pytest.fail(f"no contact_permission row {key} in run {self.name}; the party's rows: {near[:12]}")
        return found


class Runner:
    """Makes each run once per session, on first use."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.done: dict[str, Outcome] = {}

    def __call__(self, name: str) -> Outcome:
        if name not in self.done:
            self.done[name] = self._make(name)
        return self.done[name]

    def _make(self, name: str) -> Outcome:
        spec = RUNS[name]
        folder = self.base / name
        landing = spec.world.write(folder / "landing", registries=spec.registries)
        warehouse = folder / "warehouse.duckdb"
        run(landing, warehouse, iso(spec.as_of))
        outcome = Outcome(name, spec.as_of, warehouse)
        for party, cp, channel, purpose, brand, allowed, reason, region, decided_by, valid_until in rows(
            warehouse,
            "SELECT party_id, contact_point, channel, purpose, brand, allowed, reason, region, decided_by, "
            "valid_until FROM contact_permission",
        ):
            key = (str(party), str(cp), str(channel), str(purpose), str(brand))
            assert valid_until is None or isinstance(valid_until, dt.datetime)
            decided = None if decided_by is None else str(decided_by)
            outcome.permissions[key] = Row(bool(allowed), str(reason), str(region), decided, valid_until)
        for ident, source_id in rows(
            warehouse,
            "SELECT event_id, source_record_id FROM consent_events UNION ALL "
            "SELECT row_id, activity_id FROM activity UNION ALL "
            "SELECT row_id, source_record_id FROM undeliverable",
        ):
            outcome.source_ids[str(ident)] = str(source_id)
        return outcome


def check(case: Case, outcome: Outcome) -> None:
    """Assert the row's decision: allowed and reason always; region, valid_until and decided_by as given."""
    row = outcome.row(case)
    got = {"allowed": row.allowed, "reason": row.reason}
    want: dict[str, object] = {"allowed": case.allowed, "reason": case.reason}
    # valid_until is checked on every case: None where the basis has no lifetime.
    got["valid_until"], want["valid_until"] = row.valid_until, case.valid_until
    if case.region is not None:
        got["region"], want["region"] = row.region, case.region
    if case.decided_by is not None:
        resolved = outcome.source_ids.get(row.decided_by or "", row.decided_by or "")
        got["decided_by"], want["decided_by"] = resolved, case.decided_by
    assert got == want, f"{case.name} ({case.proves})\n got: {got}\nwant: {want}"
