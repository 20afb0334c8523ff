"""The command log overlay (`@`, as lazygit's): what finetui did here, newest first, and how to repeat it.

A table of actions (time, backend, action, outcome) over the selected
action's equivalents: the ``finetui`` line, the ``az ml`` lines and the
SDK calls. Enter copies the ``finetui`` line (OSC 52, so it works over SSH),
``a`` the ``az ml`` lines. The log is read in a worker; it is a file that
the CLI, other app windows and TTL watchers append to.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

if TYPE_CHECKING:
    from finetui.core.command_log import LoggedAction


class _Read(Message):
    def __init__(self, entries: list[LoggedAction], error: str | None = None) -> None:
        super().__init__()
        self.entries, self.error = entries, error


def equivalents_text(entry: LoggedAction) -> str:
    lines = [f"[b]$[/b] {escape(entry.finetui)}"]
    if entry.error:
        lines.append(f"[red]{escape(entry.error)}[/red]")
    lines += [f"[b]az[/b] {escape(a)}" for a in entry.az]
    lines += [f"[b]py[/b] {escape(p)}" for p in entry.sdk]
    lines += [f"[dim]note: {escape(n)}[/dim]" for n in entry.notes]
    return "\n".join(lines)


class CommandLogScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    CommandLogScreen { align: center middle; }
    CommandLogScreen #command-log {
        width: 110; max-width: 98%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    CommandLogScreen #log-table { height: 1fr; }
    CommandLogScreen #log-detail { height: auto; max-height: 12; margin-top: 1; }
    """
    AUTO_FOCUS = "#log-table"
    BINDINGS = [
        Binding("escape,q,at", "dismiss", "Close"),
        Binding("a", "copy('az')", "Copy az ml lines"),
    ]

    def __init__(self, workspace: str | Path | None, limit: int = 500) -> None:
        super().__init__()
        self.workspace, self.limit = workspace, limit
        self.entries: list[LoggedAction] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="command-log"):
            yield Label("[b]Command log[/b], newest first · Enter copies the finetui line · a the az ml lines · Esc closes")
            yield DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="log-detail")

    def on_mount(self) -> None:
        self.query_one("#log-table", DataTable).add_columns("TIME", "FROM", "BACKEND", "ACTION", "OUTCOME")
        self._read()

    @work(thread=True, exclusive=True, group="command-log")
    def _read(self) -> None:
        from finetui.core.command_log import CommandLog
        from finetui.core.errors import FinetuiError

        if self.workspace is None:
            self.post_message(_Read([], "no local workspace: the command log lives in one"))
            return
        try:
            self.post_message(_Read(CommandLog(Path(self.workspace)).read(self.limit)))
        except FinetuiError as exc:
            self.post_message(_Read([], str(exc)))

    @on(_Read)
    def _show(self, event: _Read) -> None:
        self.entries = event.entries
        table = self.query_one("#log-table", DataTable)
        table.clear()
        for e in event.entries:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
            table.add_row(stamp, e.source, e.backend, e.action, e.outcome)
        detail = self.query_one("#log-detail", Static)
        if event.error:
            detail.update(f"not available: {escape(event.error)}")
        elif not event.entries:
            detail.update("nothing recorded yet: actions you take here or with the finetui command appear here")
        else:
            detail.update(equivalents_text(event.entries[0]))

    @on(DataTable.RowHighlighted, "#log-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.entries):
            self.query_one("#log-detail", Static).update(equivalents_text(self.entries[event.cursor_row]))

    @on(DataTable.RowSelected, "#log-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_copy("finetui")  # Enter on a row

    def action_copy(self, what: str) -> None:
        row = self.query_one("#log-table", DataTable).cursor_row
        if not 0 <= row < len(self.entries):
            return
        entry = self.entries[row]
        text = entry.finetui if what == "finetui" else "\n".join(entry.az)
        if not text:
            self.app.notify("this action has no az ml equivalent", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.app.notify("copied the finetui line" if what == "finetui" else "copied the az ml lines")

    def action_dismiss(self) -> None:
        self.dismiss(None)
