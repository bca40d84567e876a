"""A fault-injection point for crash tests: with CONSENT_PAUSE_AT=<point>, a run announces it reached the
point on stderr and sleeps, so a test can kill it exactly there. Does nothing otherwise."""

from __future__ import annotations

import os
import sys
import time


def pause(point: str) -> None:
    if os.environ.get("CONSENT_PAUSE_AT") == point:
        print(f"PAUSED AT {point}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("CONSENT_PAUSE_SECONDS", "60")))
