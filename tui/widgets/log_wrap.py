"""Which piece of which log line each screen row shows when long lines wrap.

The log view scrolls by log line (its virtual height stays the line count), so
wrapping never needs the length of a line off screen: the rows are laid out
from the top line down or, at the bottom (following), from the last line up,
reading only the lines that end up on screen.
"""

from __future__ import annotations

from typing import Callable

Row = tuple[int, int]  # (view index of the log line, first cell of the piece shown)


def pieces(view_index: int, cells: int, width: int) -> list[Row]:
    """The rows a line of ``cells`` cells takes at ``width``: at least one, an empty line too."""
    return [(view_index, start) for start in range(0, max(1, cells), width)]


def wrapped_rows(top: int, count: int, width: int, height: int, at_bottom: bool, cells_of: Callable[[int], int]) -> list[Row]:
    """The screen's rows: from line ``top`` down, or ending with the last line when ``at_bottom``."""
    width, rows = max(1, width), []
    if at_bottom:
        index = count - 1
        while index >= 0 and len(rows) < height:
            rows[0:0] = pieces(index, cells_of(index), width)
            index -= 1
        return rows[-height:] if height else []
    index = top
    while index < count and len(rows) < height:
        rows += pieces(index, cells_of(index), width)
        index += 1
    return rows[:height]
