"""`consent-pipeline explain`: owner, each key's state and permission, and the events behind it, oldest first,
from the warehouse and from a snapshot; a phone can be given as people write it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from tests.helpers import run

CLI = Path(sys.executable).with_name("consent-pipeline")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explain") / "w.duckdb"
    run(SCENARIOS / "bad_input" / "landing", path, "2026-03-01T06:00:00Z")
    return path


def explain(warehouse: Path, query: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "explain", "--warehouse", str(warehouse), query, *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_chain_of_events_oldest_first(warehouse: Path) -> None:
    out = explain(warehouse, "Dee.Good@Example.co.uk", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["contact_point"] == "dee.good@example.co.uk"
    assert (data["owner"]["party_id"], data["owner"]["rule"]) == ("C820003", "personal")
    events = [(e["source"], e["event_ts"], e["scope_channel"], e["scope_purpose"]) for e in data["events"]]
    assert events == [
        ("legacy", "2026-02-10 00:00:00", "*", "marketing"),
        ("onetrust", "2026-02-12 10:00:00", "email", "marketing.offers"),
    ]
    assert data["events"][0]["source_file"] == "legacy/2026-02-20T020000Z/LEGACY_FLAGS_20260220_A.DAT"
    offers = next(k for k in data["keys"] if k["purpose"] == "marketing.offers" and k["channel"] == "email")
    assert (offers["status"], offers["source"], offers["allowed"], offers["reason"]) == (
        "opt_in",
        "onetrust",
        True,
        "express_consent",
    )


def test_terminal_output_and_national_phone(warehouse: Path) -> None:
    out = explain(warehouse, "(415) 555-0185")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "+14155550185"
    assert "owner: C820005" in out.stdout


def test_unknown_contact_point_exits_1(warehouse: Path) -> None:
    out = explain(warehouse, "nobody@example.org")
    assert out.returncode == 1


def test_explain_reads_a_snapshot(warehouse: Path) -> None:
    snapshot = next((warehouse.parent / "snapshots").glob("*.duckdb"))
    out = explain(snapshot, "dee.good@example.co.uk", "--json")
    assert out.returncode == 0, out.stderr
    assert [e["source"] for e in json.loads(out.stdout)["events"]] == ["legacy", "onetrust"]
