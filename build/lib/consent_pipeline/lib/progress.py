"""Progress lines for long runs on the command line (the Dagster UI has its own event log)."""

from __future__ import annotations

import sys
import time

_enabled = False
_started = time.perf_counter()


def enable(on: bool = True) -> None:
    global _enabled, _started
    _enabled = on
    _started = time.perf_counter()


def report(message: str) -> None:
    if _enabled:
        print(f"[{time.perf_counter() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)
