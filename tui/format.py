"""What the app and the CLI show of an error or a secret (no click, no Textual).

Sizes, counts and durations are not here: they are core's (``finetui.core.units``),
because core's own messages print numbers too and one formatter keeps them all alike.
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def mask(secret: str) -> str:
    """Nothing of a key is shown until the user reveals it (screenshots included)."""
    return "•" * 12 if secret else "-"
