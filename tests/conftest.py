"""Shared fixtures: the shipped rules, a temporary landing tree, and reading a source through the core."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.config import Rules, load_rules
from consent_pipeline.core.ingest.ingest import read_source

ROOT = Path(__file__).resolve().parents[1]
# The public scenarios: the shared folder beside the checkout when there is one, else the copy in the repo.
_SHARED = ROOT.parent / "shared" / "scenarios"
SCENARIOS = _SHARED if (_SHARED / "check.py").exists() else ROOT / "tests" / "acceptance" / "scenarios"


# The tier of a test is its folder's; tests elsewhere are end to end.
_TIERS = {"unit": ROOT / "tests" / "unit", "ui": ROOT / "tests" / "ui", "spark": ROOT / "tests" / "spark"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((name for name, folder in _TIERS.items() if item.path.is_relative_to(folder)), "e2e")
        item.add_marker(tier)
    # Wall time only: the groups of many tests (shared worlds) start first, so that no long one starts last.
    size: dict[str, int] = {}
    for item in items:
        size[_group(item)] = size.get(_group(item), 0) + 1
    items.sort(key=lambda item: -size[_group(item)] if size[_group(item)] > 1 else 0)
    # On an xdist worker: tell the controller's scheduler (below) each test's group.
    workerinput: dict[str, str] = getattr(config, "workerinput", {})
    folder = workerinput.get(_GROUPS_KEY)
    if folder:
        groups = {item.nodeid: _group(item) for item in items}
        worker = workerinput["workerid"]
        tmp = Path(folder) / f"{worker}.tmp"
        tmp.write_text(json.dumps(groups), encoding="utf-8")
        tmp.replace(Path(folder) / f"{worker}.json")


# The e2e tier's scheduling (`-n N --dist loadgroup`): each group's tests go to one worker, which builds the
# group's world once. pytest-xdist 3.8 marks groups by rewriting `item._nodeid`, which pytest 9.2 no longer
# reads (node ids are structured), so its own loadgroup silently became plain `load` and every shared world
# was built on every worker. Instead, each worker writes {node id: group} to a folder the controller names,
# and the controller's scheduler reads it; a run without that map stops instead of degrading silently.
_GROUPS_KEY = "consent_test_groups"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config: pytest.Config = node.config
    if not hasattr(config, _GROUPS_KEY):
        folder = tempfile.mkdtemp(prefix="consent-test-groups-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        setattr(config, _GROUPS_KEY, folder)
    node.workerinput[_GROUPS_KEY] = getattr(config, _GROUPS_KEY)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                folder = Path(getattr(config, _GROUPS_KEY, ""))
                maps = sorted(folder.glob("*.json")) if folder.name else []
                if not maps:
                    raise pytest.UsageError("e2e scheduling: no worker reported its test groups (tests/conftest.py)")
                self.groups = {k: v for m in maps for k, v in json.loads(m.read_text(encoding="utf-8")).items()}
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def _group(item: pytest.Item) -> str:
    """The e2e tier's unit of scheduling (`--dist loadgroup`): the tests that share an expensive world run on
    one worker, which builds it once. A folder's session-scoped fixture (tests/permissions) groups the folder,
    a module-scoped one the file; a test that shares nothing is its own group, free to run on any worker."""
    info = getattr(item, "_fixtureinfo", None)
    defs = [d[-1] for d in info.name2fixturedefs.values() if d] if info is not None else []
    folders = [d.baseid for d in defs if d.scope in ("session", "package") and d.baseid not in ("", "tests")]
    if folders:
        return min(folders, key=len)
    if any(d.scope == "module" for d in defs):
        return str(item.path.relative_to(ROOT))
    return item.nodeid


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
