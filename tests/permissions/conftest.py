"""Session fixture: one `Runner` that makes each pipeline run of `cases.RUNS` once, on first use."""

from __future__ import annotations

import pytest

from tests.permissions.harness import Runner


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(tmp_path_factory.mktemp("permissions"))
