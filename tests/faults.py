"""Helpers for tests that provoke real faults: the CLI in a subprocess, small or read-only file systems."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

CLI = str(Path(sys.executable).with_name("consent-pipeline"))
ERROR = "consent-pipeline: error: "


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
        [CLI, "run", "--landing", str(landing), "--warehouse", str(warehouse), "--extracts", str(extracts),
         "--rules", str(ROOT / "rules"), "--as-of", as_of, "--quiet", *extra],
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
