"""Refresh a DataTable in place: polls must never move the user's cursor.

Clearing and refilling a table sends the cursor to row 0 and back, and every
row on the way is "highlighted": the panes listening for that reset what the
user was doing (a chat, revealed keys). Here rows are keyed by name: cells
change in place, new rows are added, gone ones removed, and the cursor stays
on the row key it was on.
"""

from __future__ import annotations

from typing import Any, Sequence

from textual.widgets import DataTable


def cursor_key(table: DataTable) -> str | None:
    """The key of the row under the cursor (None on an empty table)."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # the cursor is past the last row while rows are being removed
        return None


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence[Any]]], key_column: str) -> None:
    """Show ``rows`` (key, cells), in this order; ``key_column`` is the column holding the key."""
    selected = cursor_key(table)
    wanted = [key for key, _ in rows]
    keep = set(wanted)
    for row_key in list(table.rows):
        if row_key.value not in keep:
            table.remove_row(row_key)
    columns = list(table.columns)
    for key, cells in rows:
        if key in table.rows:
            for column, value in zip(columns, cells):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value)
        else:
            table.add_row(*cells, key=key)
    if [row.key.value for row in table.ordered_rows] != wanted:
        rank = {key: i for i, key in enumerate(wanted)}
        table.sort(key_column, key=lambda value: rank.get(str(value), len(rank)))
    if selected in keep and table.cursor_row != wanted.index(selected):
        table.move_cursor(row=wanted.index(selected), animate=False)
