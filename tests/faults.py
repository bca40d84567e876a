"""Helpers for tests that provoke real faults: the CLI in a subprocess, small or read-only file systems."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

CLI = str(Path(sys.executable).with_name("consent-pipeline"))
ERROR = "consent-pipeline: error: "


def run_args(
    landing: Path, warehouse: Path, extracts: Path, as_of: str, *extra: str, rules: Path | None = None
) -> list[str]:
    """The CLI's `run` command line for these folders (the shipped rules unless given)."""
    return [
        CLI,
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(warehouse),
        "--extracts",
        str(extracts),
        "--rules",
        str(rules or ROOT / "rules"),
        "--as-of",
        as_of,
        *extra,
    ]


def cli_run(
    landing: Path,
    warehouse: Path,
    extracts: Path,
    as_of: str,
    env: dict[str, str] | None = None,
    *extra: str,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    return subprocess.run(
        run_args(landing, warehouse, extracts, as_of, "--quiet", *extra),
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def error_line(run: subprocess.CompletedProcess[str]) -> str:
    """The run's one line on stderr, without the prefix (asserts there is exactly one, and no traceback)."""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(ERROR), run.stderr
    return lines[0][len(ERROR) :]


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (tests run as root here; skipped with the reason elsewhere)."""
    path.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {got.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def read_only(path: Path) -> None:
    """Remount a tmpfs of `tmpfs()` read-only: root cannot write to it either (chmod would not stop root)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def start_paused(
    landing: Path,
    warehouse: Path,
    extracts: Path,
    as_of: str,
    point: str,
    rules: Path | None = None,
    env: dict[str, str] | None = None,
    until: Path | None = None,
) -> subprocess.Popen[str]:
    """A CLI run that stops at a fault-injection point (lib/faults.pause) until killed, or until the file
    `until` exists (then it goes on). `env` adds to an environment without the caller's CONSENT_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    pause = {"CONSENT_PAUSE_AT": point, "CONSENT_PAUSE_SECONDS": "300"}
    if until is not None:
        pause["CONSENT_PAUSE_UNTIL"] = str(until)
    return subprocess.Popen(
        run_args(landing, warehouse, extracts, as_of, "--quiet", rules=rules),
        env={**clean, **(env or {}), **pause},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def paused_run(
    landing: Path, warehouse: Path, extracts: Path, as_of: str, point: str, until: Path
) -> Iterator[subprocess.Popen[str]]:
    """A CLI run stopped at `point` (reached when the block starts) that goes on once `until` exists
    (`resume`); killed when the block ends with the run still going (a failed assertion)."""
    proc = start_paused(landing, warehouse, extracts, as_of, point, until=until)
    try:
        wait_for_pause(proc, point)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def resume(proc: subprocess.Popen[str], until: Path) -> tuple[str, str]:
    """Let a paused run go on, and its stdout and stderr once it ended."""
    until.touch()
    return proc.communicate(timeout=300)


def wait_for_pause(proc: subprocess.Popen[str], point: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if f"PAUSED AT {point}" in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"run ended before reaching {point}: {proc.stderr.read()}")
    raise AssertionError(f"run did not reach {point}")


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def check_folder(folder: Path, foreign: tuple[str, ...] = ()) -> dict[str, Any]:
    """An extract folder is whole: `sha256sum -c` passes on its manifest, and it holds no CSV file the
    manifest does not list (but the `foreign` ones a person put there). Returns the manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = [f["name"] for f in manifest["files"]]
    sums = folder.parent / f".{folder.name}.sha256"
    sums.write_text("".join(f"{f['sha256']}  {f['name']}\n" for f in manifest["files"]), encoding="utf-8")
    try:
        check = subprocess.run(["sha256sum", "-c", "--strict", str(sums)], cwd=folder, capture_output=True, text=True)
    finally:
        sums.unlink()
    assert check.returncode == 0, check.stdout + check.stderr
    assert sorted(p.name for p in folder.glob("*.csv")) == sorted([*listed, *foreign])
    assert not list(folder.glob(".*"))  # no temporary file
    return manifest
