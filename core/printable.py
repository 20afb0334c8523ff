"""Dataset text made safe to show on a terminal.

A row of a dataset is someone else's text: an ``ESC ] 0 ; title BEL`` in it
retitles the user's terminal, other escape sequences move the cursor, clear
the screen or (on some terminals) write files. Before any dataset text is
shown, by the CLI or by the app, every control character except newline and
tab is replaced by a visible stand-in, so a sequence prints as harmless text
(``␛]0;title␇``) and the user still sees that something was there.
"""

from __future__ import annotations

from typing import Any

# C0 controls as their Unicode control pictures (U+2400..), DEL as ␡, C1 (0x80-0x9f,
# which include the 8-bit CSI and OSC) as \x.. text; newline and tab stay.
_TABLE = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab made visible and inert."""
    return text.translate(_TABLE)


def printable_data(value: Any) -> Any:
    """``printable`` applied to every string in a parsed JSON value (keys too), structure kept."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_data(v) for v in value]
    return value
