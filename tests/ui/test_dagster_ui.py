"""The Dagster UI as a newcomer meets it: what `scripts/demo` does (CLI runs on the default paths, two nights),
then `dagster dev` from the same folder with no DAGSTER_HOME. The UI must show the CLI's runs, the blocking
checks and a plotted metadata series (a real browser: Debian's headless Chromium, installed by
scripts/install-browser, driven over the DevTools protocol; a screenshot is saved when it fails), serve the
asset graph, and launch a run of its own."""

from __future__ import annotations

import base64
import contextlib
import itertools
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
from typing import Any

import duckdb
import pytest
from websockets.sync.client import connect

from source_connectors import SOURCES
from tests.conftest import ROOT, SCENARIOS

BIN = Path(sys.executable).parent
LOCATION = "consent_pipeline.definitions"
SCENARIO = SCENARIOS / "bad_input"
NIGHTS = ("2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z")


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
    project = work / "project"  # a checkout's root, as far as the CLI and dagster dev are concerned
    project.mkdir()
    shutil.copy(ROOT / "dagster.yaml", project / "dagster.yaml")
    shutil.copytree(SCENARIO / "landing", project / "data" / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSENT_", "DAGSTER_HOME"))}
    env["CONSENT_RULES"] = str(ROOT / "rules")
    # scripts/demo: the CLI on the default paths (data/...); two nights, so that metadata has a series
    for as_of in NIGHTS:
        done = subprocess.run(
            [str(BIN / "consent-pipeline"), "run", "--as-of", as_of, "--quiet"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    data = project / "data"
    ui_env = {
        **env,
        # for the run launched from the UI
        "CONSENT_LANDING": str(data / "landing"),
        "CONSENT_WAREHOUSE": str(data / "warehouse" / "consent.duckdb"),
        "CONSENT_EXTRACTS": str(data / "extracts"),
        "CONSENT_AS_OF": "2026-03-03T06:00:00Z",
    }
    port = free_port()
    log = (work / "dagster-dev.log").open("wb")
    # then `dagster dev` from the same folder (it reads the folder's dagster.yaml), no DAGSTER_HOME
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=project,
        env=ui_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((work / "dagster-dev.log").read_text()[-3000:]) from None
                time.sleep(1)
        yield Server(url, proc, work)
    finally:
        # Stop dagster dev (its webserver, daemon and code server) by its process group, as Ctrl-C does.
        os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.poll() is not None


class Browser:
    """Headless Chromium over the DevTools protocol: open a page, run JavaScript in it, take a screenshot."""

    def __init__(self, folder: Path) -> None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "Chromium is not installed: run scripts/install-browser"
        self.folder = folder
        port = free_port()
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={folder / 'chromium-profile'}",
                "--window-size=1600,1400",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        pages: list[dict[str, Any]] = []
        while not pages:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                    pages = [t for t in json.loads(resp.read()) if t["type"] == "page"]
            except OSError:
                pass
            assert time.monotonic() < deadline, "Chromium did not start"
            time.sleep(0.5)
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(pages[0]["webSocketDebuggerUrl"], max_size=2**26, open_timeout=30))
        self.ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                assert "error" not in message, message
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 90) -> Any:
        """Poll a JavaScript expression until it is truthy; else save a screenshot and fail naming it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        shot = self.screenshot(what)
        text = (self.js("document.body ? document.body.innerText : ''") or "")[:1500]
        raise AssertionError(f"{what}: not found (screenshot: {shot}); the page says: {text}")

    def screenshot(self, name: str) -> Path:
        path = self.folder / f"{''.join(c if c.isalnum() else '_' for c in name)[:60]}.png"
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        self.stack.close()
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


@pytest.fixture()
def browser(server: Server) -> Iterator[Browser]:
    b = Browser(server.work)  # screenshots beside dagster dev's log, in pytest's temporary folder
    try:
        yield b
    finally:
        b.close()


def test_the_ui_shows_the_cli_runs_their_checks_and_metadata(server: Server) -> None:
    runs = server.graphql("{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }")[
        "runsOrError"
    ]["results"]
    nights = [r for r in runs if any(t["key"] == "consent/as_of" and t["value"] in NIGHTS for t in r["tags"])]
    assert len(nights) == 2 and {r["status"] for r in nights} == {"SUCCESS"}, runs
    assert {r["jobName"] for r in nights} == {"consent_nightly"}
    nodes = server.graphql(
        "{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"
    )["assetNodes"]
    blocking = {
        (n["assetKey"]["path"][-1], c["name"])
        for n in nodes
        for c in n["assetChecksOrError"].get("checks", [])
        if c["blocking"]
    }
    assert {("suppression", "opted_out_suppressed"), ("contact_permission", "opted_out_never_allowed")} <= blocking
    events = server.graphql(
        """{ assetOrError(assetKey: {path: ["suppression"]}) { ... on Asset { assetMaterializations(limit: 10) {
             runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""
    )["assetOrError"]["assetMaterializations"]
    series = [e["intValue"] for m in events for e in m["metadataEntries"] if e["label"] == "suppressed_email"]
    assert len(series) >= 2 and all(v > 0 for v in series), events


def test_a_browser_finds_the_runs_the_blocking_checks_and_a_plotted_series(server: Server, browser: Browser) -> None:
    browser.open(f"{server.url}/runs")
    browser.wait_for("document.body.innerText.includes('consent_nightly')", "the CLI's runs on the runs page")
    browser.open(f"{server.url}/assets/suppression?view=checks")
    browser.wait_for("document.body.innerText.includes('opted_out_suppressed')", "the blocking check on suppression")
    # the asset's overview: its metadata as a table, or plotted run by run
    browser.open(f"{server.url}/assets/suppression")
    browser.wait_for(
        "(() => { const b = [...document.querySelectorAll('button')].find(x => x.innerText.trim() === 'Plots');"
        " if (b) { b.click(); return true; } return false; })()",
        "the Plots switch of the suppression asset's metadata",
    )
    browser.wait_for(
        "document.body.innerText.includes('suppressed_email') && document.querySelectorAll('canvas').length > 0",
        "a plotted series of suppressed_email",
    )


def test_graphql_lists_assets_and_a_launched_run_succeeds(server: Server) -> None:
    nodes = server.graphql("{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {f"source/{s}" for s in SOURCES} <= keys
    assert {
        "consent_events",
        "quarantine",
        "ingest_ledger",
        "consent_current",
        "contact_permission",
        "segments",
        "extracts",
        "optout_sla",
        "snapshot",
    } <= keys
    assert {n["groupName"] for n in nodes if n["assetKey"]["path"][0] == "source"} == {"sources"}

    launched = server.graphql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
             __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "jobName": "consent_nightly",
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    status = ""
    while time.monotonic() < deadline:
        status = server.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})[
            "runOrError"
        ]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"
    # The run (queued, then started by dagster dev's daemon) wrote the warehouse the environment points at.
    con = duckdb.connect(str(server.work / "project" / "data" / "warehouse" / "consent.duckdb"), read_only=True)
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
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1600,8000",
            "--virtual-time-budget=30000",
            "--dump-dom",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    missing = [s for s in SOURCES if f">{s}<" not in dom]
    assert not missing, f"not on the graph page: {missing}"
