"""Shared fixtures: the shipped rules, a temporary landing tree, and reading a source through the core."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.config import Rules, load_rules
from consent_pipeline.core.ingest.ingest import read_source

ROOT = Path(__file__).resolve().parents[1]
# The public scenarios: the shared folder beside the checkout when there is one, else the copy in the repo.
_SHARED = ROOT.parent / "shared" / "scenarios"
SCENARIOS = _SHARED if (_SHARED / "check.py").exists() else ROOT / "tests" / "acceptance" / "scenarios"


# The tier of a test is its folder's; tests elsewhere are end to end.
_TIERS = {"unit": ROOT / "tests" / "unit", "ui": ROOT / "tests" / "ui"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((name for name, folder in _TIERS.items() if item.path.is_relative_to(folder)), "e2e")
        item.add_marker(tier)


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(ROOT / "rules")


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


Writer = Callable[..., Path]


@pytest.fixture()
def drop(landing: Path) -> Writer:
    """drop(source, delivery, name, content) writes one landing file (str is UTF-8, bytes as given)."""

    def write(source: str, delivery: str, name: str, content: str | bytes) -> Path:
        path = landing / source / delivery / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


@pytest.fixture()
def read(landing: Path, rules: Rules) -> Callable[[str], Batch]:
    """read(source) runs connector -> normalise -> validate over the landing tree."""

    def run(source: str) -> Batch:
        return read_source(source, landing, rules)

    return run
