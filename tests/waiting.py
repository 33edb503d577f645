"""Waiting for something another process or thread does, with a generous bound: what tests use
in place of a sleep, so that a loaded machine makes them slower, never wrong."""

from __future__ import annotations

import time
from collections.abc import Callable

# Far beyond what anything the tests wait for takes on an idle machine (well under a second).
WAIT_SECONDS = 60.0


def wait_until(done: Callable[[], bool], what: str, timeout_seconds: float = WAIT_SECONDS) -> float:
    """Poll `done` until it is true; the seconds it took. Fails the test naming `what`."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout_seconds:
            raise AssertionError(f"not within {timeout_seconds:.0f} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - started
