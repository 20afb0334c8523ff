"""How sizes, counts and durations read, wherever a person sees them: the app, the CLI and core's messages.

One formatter for each, so the same number never reads two ways on one screen.
Sizes are binary with binary names (KiB, MiB, GiB, 1024-based: how RAM and
GPU memory come, and what ``free -h`` and ``nvidia-smi`` print), with one
decimal from KiB up. JSON output carries bytes, not these strings.
"""

from __future__ import annotations

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float | None) -> str:
    """``1536`` -> ``1.5 KiB``; ``None`` -> ``-``."""
    if n is None:
        return "-"
    if abs(n) < KIB:
        return f"{int(n)} B"
    value = float(n)
    for unit in _SIZE_UNITS:
        value /= 1024
        # decide on the rounded value, so 1023.96 KiB reads 1.0 MiB and not 1024.0 KiB
        if abs(round(value, 1)) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def count(n: float | None) -> str:
    """A count of things (parameters, rows, tokens): ``3_800_000_000`` -> ``3.8B``."""
    if n is None:
        return "-"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(int(n))


def duration(seconds: float | None) -> str:
    """``45`` -> ``45s``, ``75`` -> ``1m15s``, ``3700`` -> ``1h01m``, ``90000`` -> ``1d01h``; unknown -> ``-``."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def duration_as_typed(seconds: float) -> str:
    """A duration as a user types one (what ``ttl.parse_duration`` reads back), no zero parts:
    ``5`` -> ``5s``, ``90`` -> ``1m30s``, ``7200`` -> ``2h``, ``5400`` -> ``1h30m``."""
    s = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"
