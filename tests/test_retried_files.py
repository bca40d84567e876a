"""A file a connector failed on is read again by the next run (ledger status `failed`), and what it brings then
counts as new: its opt-outs reach the golden record and the suppression lists, and its sends the audit, as if
it had been read the first time. (The incremental stages used to know a file by its name alone: the retried
file was already "seen", so its rows were skipped and an opt-out in it was lost until a full rebuild.)

The failure is injected at the connector (CONSENT_FAIL_AT=connector:<source>), the stand-in for a bug in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_pipeline.config import load_rules
from consent_pipeline.generate import generate
from consent_pipeline.generate.plan import DEFAULT_AS_OF
from tests.conftest import SCENARIOS
from tests.helpers import ROOT, rows, run, table_hash

AS_OF = "2026-04-05T06:00:00Z"  # formats_and_time's
CONTRACT = ["consent_events", "consent_history", "consent_current", "contact_permission", "suppression"]


def _retried(
    monkeypatch: pytest.MonkeyPatch,
    landing: Path,
    warehouse: Path,
    as_of: str,
    source: str,
    failing: tuple[set[str], set[str]] = (set(), set()),
) -> None:
    """Night 1 with the source's connector failing, night 2 (same as-of, same landing: nothing else is new)
    with it working. `failing`: the ERROR checks each night fails (the data breaks some on purpose)."""
    monkeypatch.setenv("CONSENT_FAIL_AT", f"connector:{source}")
    run(landing, warehouse, as_of, failing_checks=failing[0])
    assert {status for (status,) in rows(warehouse, _STATUS, [source])} == {"failed"}
    monkeypatch.delenv("CONSENT_FAIL_AT")
    second = run(landing, warehouse, as_of, failing_checks=failing[1])
    assert {status for (status,) in rows(warehouse, _STATUS, [source])} == {"read"}
    # the incremental path is what is tested: a whole rebuild would read every row anyway
    assert second.figures["golden_scope"] >= 0, "the second night rebuilt the golden record whole"
    assert second.figures["audit_scope"] >= 0, "the second night recomputed the audit whole"


_STATUS = "SELECT DISTINCT file_status FROM ingest_ledger WHERE source = ?"
# The generated data holds marketing sends after an opt-out on purpose (the audit must find them).
GENERATED = {"no_send_after_optout"}


def test_an_opt_out_in_a_retried_file_reaches_the_golden_record_and_the_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = SCENARIOS / "formats_and_time" / "landing"
    warehouse = tmp_path / "w.duckdb"
    _retried(monkeypatch, landing, warehouse, AS_OF, "mailchimp")
    opted_out = "SELECT count(*) FROM consent_current WHERE source = 'mailchimp' AND status = 'opt_out'"
    assert rows(warehouse, opted_out) == [(1,)], "the retried Mailchimp opt-out is not in the golden record"
    fresh = tmp_path / "fresh" / "w.duckdb"
    fresh.parent.mkdir()
    run(landing, fresh, AS_OF)
    assert [t for t in CONTRACT if table_hash(warehouse, t) != table_hash(fresh, t)] == []


def test_sends_in_a_retried_file_reach_the_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    generate(landing, load_rules(ROOT / "rules"), scale=0.003, seed=11, as_of=DEFAULT_AS_OF)
    as_of = DEFAULT_AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    warehouse = tmp_path / "w.duckdb"
    # without the sends, the first night finds no send after an opt-out
    _retried(monkeypatch, landing, warehouse, as_of, "sends", (set(), GENERATED))
    fresh = tmp_path / "fresh" / "w.duckdb"
    fresh.parent.mkdir()
    run(landing, fresh, as_of, failing_checks=GENERATED)
    found = "SELECT send_id FROM violations ORDER BY send_id"
    assert rows(fresh, found), "the generated world has no send after an opt-out: the test would prove nothing"
    assert rows(warehouse, found) == rows(fresh, found)
