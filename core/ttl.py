"""Time to live: an endpoint that is stopped (local) or deleted (Azure) when its time runs out.

The deadline is wall-clock time from creation (``expires_at``), kept in the
endpoint's record: restarting a local endpoint does not give it more time.
The reason is recorded in the same words everywhere: ``expired (ttl 2h)``.
"""

from __future__ import annotations

import math

from .errors import InvalidInput

MAX_TTL_S = 366 * 86400.0


def check_ttl(ttl_s: float | None) -> float | None:
    if ttl_s is None:
        return None
    if not isinstance(ttl_s, (int, float)) or not math.isfinite(ttl_s) or ttl_s <= 0 or ttl_s > MAX_TTL_S:
        raise InvalidInput(f"--ttl {ttl_s!r}: use a positive time of at most 366 days, e.g. 2h")
    return float(ttl_s)


def ttl_label(seconds: float) -> str:
    """5 -> 5s, 90 -> 1m30s, 7200 -> 2h, 5400 -> 1h30m."""
    s = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"


def expired_reason(ttl_s: float) -> str:
    return f"expired (ttl {ttl_label(ttl_s)})"
