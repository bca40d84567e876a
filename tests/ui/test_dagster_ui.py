"""The Dagster UI: the webserver serves the asset graph, launches a run through GraphQL, and a real browser
(Debian's headless Chromium, installed by scripts/install-browser) finds the assets on the graph page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from source_connectors import SOURCES
from tests.conftest import ROOT, SCENARIOS

WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
LOCATION = "consent_pipeline.definitions"
SCENARIO = SCENARIOS / "bad_input"
DAGSTER_YAML = """\
# Runs launched from the UI start at once in a subprocess (no daemon needed for the test).
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], work: Path) -> None:
        self.url, self.proc, self.work = url, proc, work

    def graphql(self, query: str, variables: dict[str, object] | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = json.loads(resp.read())
        assert "errors" not in data, data
        return data["data"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("ui")
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CONSENT_LANDING": str(SCENARIO / "landing"),
        "CONSENT_WAREHOUSE": str(work / "warehouse" / "consent.duckdb"),
        "CONSENT_EXTRACTS": str(work / "extracts"),
        "CONSENT_AS_OF": "2026-03-01T06:00:00Z",
    }
    log = (work / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [str(WEBSERVER), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((work / "webserver.log").read_text()[-3000:]) from None
                time.sleep(1)
        yield Server(url, proc, work)
    finally:
        # Stop the server (and the code server it started) by its process group.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.poll() is not None


def test_graphql_lists_assets_and_a_launched_run_succeeds(server: Server) -> None:
    nodes = server.graphql("{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {f"source/{s}" for s in SOURCES} <= keys
    assert {"consent_events", "quarantine", "ingest_ledger", "consent_current", "contact_permission",
            "segments", "extracts", "optout_sla", "snapshot"} <= keys
    assert {n["groupName"] for n in nodes if n["assetKey"]["path"][0] == "source"} == {"sources"}

    launched = server.graphql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
             __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {"p": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                            "jobName": "consent_nightly"}, "runConfigData": {}}},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    status = ""
    while time.monotonic() < deadline:
        status = server.graphql(
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id}
        )["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"
    # The run wrote the warehouse the environment points at.
    con = duckdb.connect(str(server.work / "warehouse" / "consent.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT count(DISTINCT source) FROM ingest_ledger").fetchall()[0][0] == len(SOURCES)
    finally:
        con.close()


def test_browser_finds_the_assets_on_the_graph_page(server: Server) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is not installed: run scripts/install-browser"
    page = f"{server.url}/locations/{LOCATION}/asset-groups/sources"
    # A tall window: the graph only renders the nodes in view.
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1600,8000",
         "--virtual-time-budget=30000", "--dump-dom", page],
        capture_output=True, text=True, timeout=180,
    ).stdout
    missing = [s for s in SOURCES if f">{s}<" not in dom]
    assert not missing, f"not on the graph page: {missing}"
