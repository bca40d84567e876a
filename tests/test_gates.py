"""The safety gates: a violated blocking invariant stops the run before tonight's extract folder is published.

Each blocking invariant is broken for real in the middle of a CLI run: the run is paused just before the
check (lib/faults.pause), the violation is planted in the warehouse the run has just written, and the run
goes on. The CLI must exit 1 with the check's name and its first violating rows on one line, tonight's folder
must not exist, and yesterday's must be byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.core.audit.invariant_registry import BLOCKING, INVARIANTS
from tests.faults import ERROR, paused_run, resume
from tests.golden.conftest import AS_OF, DELIVERIES, land
from tests.golden.test_invariants_catch import PLANTS
from tests.helpers import run

YESTERDAY = "2026-02-28T06:00:00Z"
# What the issue names as the promises that protect people: each must be blocking.
PROTECTING_PEOPLE = {
    "opted_out_never_allowed",
    "opted_out_suppressed",
    "erased_not_in_clear",
    "one_current_state_per_key",
    "one_owner_per_contact_point",
    "ledger_balances",
}


def test_the_promises_that_protect_people_are_the_blocking_checks() -> None:
    assert set(BLOCKING) == PROTECTING_PEOPLE
    # warnings never block
    assert not [n for n, inv in INVARIANTS.items() if inv.blocking and inv.severity != "ERROR"]


@pytest.fixture(scope="module")
def yesterday(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Yesterday's run: its warehouse and its published extract folder."""
    root = tmp_path_factory.mktemp("gates")
    land(root / "landing", DELIVERIES)
    run(root / "landing", root / "w" / "w.duckdb", YESTERDAY, root / "extracts")
    assert (root / "extracts" / "2026-02-28" / "manifest.json").exists()
    return root


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("name", sorted(BLOCKING))
def test_a_blocking_violation_keeps_tonights_folder_unpublished(yesterday: Path, tmp_path: Path, name: str) -> None:
    shutil.copytree(yesterday / "w", tmp_path / "w")
    shutil.copytree(yesterday / "extracts", tmp_path / "extracts")
    warehouse, extracts = tmp_path / "w" / "w.duckdb", tmp_path / "extracts"
    before = _digest(extracts / "2026-02-28")
    go = tmp_path / "go"
    with paused_run(yesterday / "landing", warehouse, extracts, AS_OF, f"check:{name}", go) as proc:
        # The run has written the table the check guards and holds no connection while paused.
        con = duckdb.connect(str(warehouse))
        try:
            changed = con.execute(PLANTS[name]).fetchall()[0][0]
        finally:
            con.close()
        assert changed >= 1, "the plant changed nothing"
        stdout, stderr = resume(proc, go)
    assert proc.returncode == 1, stdout + stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR), stderr
    line = lines[0]
    assert f"blocking check {name} failed on {INVARIANTS[name].table}" in line, line
    assert re.search(r"\(\d+\+? violating rows?; first: [^)]", line), line
    assert "tonight's extract folder was not published" in line and "2026-02-28" in line, line
    assert f"FAILED {INVARIANTS[name].table}: {name} (blocking)" in stdout, stdout
    # tonight's folder was never published (nor left half-written); yesterday's is untouched
    assert sorted(p.name for p in extracts.iterdir()) == ["2026-02-28"]
    assert _digest(extracts / "2026-02-28") == before
