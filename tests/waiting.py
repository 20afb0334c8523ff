"""Waiting on conditions (never on fixed sleeps) for tests that drive real processes and servers."""

from __future__ import annotations

import time

import httpx


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status(url: str) -> int | None:
    """The HTTP status of GET ``url``, or None while nothing answers there."""
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None
