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


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence[Any]]], height: int = 1) -> None:
    """Show ``rows`` (key, cells), in this order, keeping the cursor on its row key.

    While the rows change no RowHighlighted is sent: the selected row is the same
    one, so nothing listening has anything to redo. Only when the selected row is
    gone does the cursor move, and say so.
    """
    selected = cursor_key(table)
    wanted = [key for key, _ in rows]
    keep = set(wanted)
    with table.prevent(DataTable.RowHighlighted):
        for row_key in list(table.rows):
            if row_key.value not in keep:
                table.remove_row(row_key)
        columns = list(table.columns)
        for key, cells in rows:
            if key in table.rows:
                for column, value in zip(columns, cells):
                    if table.get_cell(key, column) != value:
                        table.update_cell(key, column, value, update_width=True)  # a longer cell (a job's progress) is not cut
            else:
                table.add_row(*cells, key=key, height=height)
        order = [row.key.value for row in table.ordered_rows]
        if order != wanted:  # re-add the rows from the first one out of place
            first = next((i for i, (a, b) in enumerate(zip(order, wanted)) if a != b), min(len(order), len(wanted)))
            for key in order[first:]:
                table.remove_row(key)
            for key, cells in rows[first:]:
                table.add_row(*cells, key=key, height=height)
        if selected in keep:
            table.move_cursor(row=wanted.index(selected), animate=False)
            return
    if table.row_count:  # a first row, or the selected one gone: the cursor is on another row now
        row = min(table.cursor_row, table.row_count - 1)
        table.move_cursor(row=row, animate=False)
        table.post_message(DataTable.RowHighlighted(table, row, table.ordered_rows[row].key))
