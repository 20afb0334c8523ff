"""Small formatting helpers for the app and the CLI (no click).

Sizes, counts and durations are core's (``finetui.core.units``): core's own
messages print numbers too, and one formatter keeps them all alike.
"""

from __future__ import annotations

from finetui.core.units import count as human_count  # noqa: F401  (panes and CLI modules import them from here)
from finetui.core.units import duration  # noqa: F401
from finetui.core.units import size as human_bytes  # noqa: F401


def first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def mask(secret: str) -> str:
    """Nothing of a key is shown until the user reveals it (screenshots included)."""
    return "•" * 12 if secret else "-"
