"""A file a connector failed on is read again by the next run (ledger status `failed`), and what it brings then
counts as new: its opt-outs reach the golden record and the suppression lists, and its sends the audit, as if
it had been read the first time. (The incremental stages used to know a file by its name alone: the retried
file was already "seen", so its rows were skipped and an opt-out in it was lost until a full rebuild.)

The failure is injected at the connector (CONSENT_FAIL_AT=connector:<source>), the stand-in for a bug in it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import SCENARIOS
from tests.faults import paused_run, resume
from tests.helpers import rows, run, table_hash, write

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
    scenario = SCENARIOS / "campaigns_and_caps"
    landing = tmp_path / "landing"
    shutil.copytree(scenario / "landing", landing)
    # an Energy Offers email to a contact point SendGrid unsubscribed from them on 10 February
    write(landing, "sends", "2026-02-28T020000Z", "sends_0001.csv", SEND_AFTER_OPT_OUT)
    as_of = str(yaml.safe_load((scenario / "expect.yaml").read_text(encoding="utf-8"))["as_of"])
    warehouse = tmp_path / "w.duckdb"
    # without the sends, the first night finds no send after an opt-out
    _retried(monkeypatch, landing, warehouse, as_of, "sends", (set(), {"no_send_after_optout"}))
    found = "SELECT send_id FROM violations ORDER BY send_id"
    assert rows(warehouse, found) == [("SND-9001",)]
    fresh = tmp_path / "fresh" / "w.duckdb"
    fresh.parent.mkdir()
    run(landing, fresh, as_of, failing_checks={"no_send_after_optout"})
    assert table_hash(warehouse, "violations", exclude=("run_id",)) == table_hash(
        fresh, "violations", exclude=("run_id",)
    )


SEND_AFTER_OPT_OUT = (
    "send_id,channel,brand,campaign_id,purpose,contact_point,sent_at\n"
    "SND-9001,email,lakeside_energy,energy_feb_offers,marketing.offers,ravi.optout@example.com,2026-02-25T15:00:00Z\n"
)


def test_a_file_that_could_not_be_opened_is_read_by_the_next_run(tmp_path: Path) -> None:
    """A file found by discovery but gone when its connector opened it (moved away mid-run; on other systems a
    permission or an I/O error) was not seen at all: it is quarantined as `failed`, not settled as `unreadable`,
    and the next run reads it, its opt-out included. (It used to be settled: a ledger row with no hash, never
    compared, so the opt-out was lost.)"""
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "formats_and_time" / "landing", landing)
    (export,) = landing.glob("mailchimp/*/*.csv")
    away = tmp_path / "away.csv"
    warehouse, extracts = tmp_path / "w.duckdb", tmp_path / "x"
    go = tmp_path / "go"
    with paused_run(landing, warehouse, extracts, AS_OF, "discovered:mailchimp", go) as proc:
        export.rename(away)
        stdout, stderr = resume(proc, go)
    assert proc.returncode == 0, stdout + stderr
    assert {status for (status,) in rows(warehouse, _STATUS, ["mailchimp"])} == {"failed"}
    held = "SELECT detail FROM quarantine WHERE source = 'mailchimp' AND source_record IS NULL"
    assert [d for (d,) in rows(warehouse, held)] == ["cannot read the file: No such file or directory"]
    away.rename(export)
    run(landing, warehouse, AS_OF)
    assert {status for (status,) in rows(warehouse, _STATUS, ["mailchimp"])} == {"read"}
    opted_out = "SELECT count(*) FROM consent_current WHERE source = 'mailchimp' AND status = 'opt_out'"
    assert rows(warehouse, opted_out) == [(1,)], "the Mailchimp opt-out in the file read again is not in the record"
