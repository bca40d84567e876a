"""Every file of a delivery rewritten as transfers and spreadsheets rewrite them (feeds.md "Real files are messy")
decides exactly what the files as delivered decide: the same consent states, history, permissions, suppression
list, quarantine rows and extract files. The landing is the bad_input scenario (all fifteen feeds in their own
formats, CSV, JSON, JSON lines, text and fixed width, with damaged records), so the damaged records must keep
their reasons too.

Found on 2026-12-07 with the same rewrites over every public scenario (90 runs, all equal); kept here on the
one landing that holds every format."""

from __future__ import annotations

import codecs
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.test_scenarios import SCENARIOS
from tests.helpers import rows, run

AS_OF = "2026-03-01T06:00:00Z"
LANDING = SCENARIOS / "bad_input" / "landing"
COMPARED = {
    "consent_current": "SELECT * EXCLUDE (event_id) FROM consent_current",
    "consent_history": "SELECT * EXCLUDE (event_id) FROM consent_history",
    "contact_permission": "SELECT * EXCLUDE (decided_by) FROM contact_permission",
    "suppression": "SELECT * FROM suppression",
    "quarantine": "SELECT source, reason, source_record, detail FROM quarantine",
    "consent_events": "SELECT source, contact_point, channel, purpose, brand, status, event_ts FROM consent_events",
}


def _lines(data: bytes) -> list[bytes]:
    return data.replace(b"\r\n", b"\n").split(b"\n")


def _excel_unicode(data: bytes) -> bytes:
    """Excel's "Unicode text": UTF-16 with its BOM, CRLF line ends."""
    return b"\r\n".join(_lines(data)).decode("utf-8-sig").encode("utf-16")


def _mac_with_bom(data: bytes) -> bytes:
    """A UTF-8 BOM, and lone CR line ends (Excel for Mac)."""
    body = b"\r".join(_lines(data))
    return body if body.startswith(codecs.BOM_UTF8) else codecs.BOM_UTF8 + body


def _blank_lines(data: bytes) -> bytes:
    """Blank lines between records and at the end (never records)."""
    out: list[bytes] = []
    for i, line in enumerate(_lines(data)):
        out.append(line)
        if i % 3 == 1:
            out.append(b"")
    return b"\n".join(out) + b"\n\n"


REWRITES: dict[str, Callable[[bytes], bytes]] = {
    "utf16_crlf": _excel_unicode,
    "bom_cr": _mac_with_bom,
    "blank_lines": _blank_lines,
}


def _decisions(folder: Path) -> dict[str, object]:
    warehouse = folder / "w.duckdb"
    out: dict[str, object] = {name: sorted(map(repr, rows(warehouse, sql))) for name, sql in COMPARED.items()}
    out["files"] = {p.name: p.read_bytes() for p in sorted((folder / "x").rglob("*.csv"))}
    return out


@pytest.fixture(scope="module")
def as_delivered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("as-delivered")
    run(LANDING, folder / "w.duckdb", AS_OF, extracts=folder / "x")
    return _decisions(folder)


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_a_rewritten_landing_decides_the_same(rewrite: str, as_delivered: dict[str, object], tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(LANDING, landing)
    rewritten = 0
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        data = path.read_bytes()
        path.write_bytes(REWRITES[rewrite](data))
        rewritten += 1
    assert rewritten >= 20  # every feed's files
    run(landing, tmp_path / "w.duckdb", AS_OF, extracts=tmp_path / "x")
    got = _decisions(tmp_path)
    for name in [*COMPARED, "files"]:
        assert got[name] == as_delivered[name], f"{rewrite}: {name} differs from the files as delivered"
