"""The Jobs pane's Checkpoints tab: one job's saved checkpoints with their losses, the best marked.

It only shows what it is given (``show``) and says which checkpoint is highlighted;
the pane loads the list and acts on it (register, deploy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..checkpoint_text import BEST_MARK, COLUMNS, cells, none_yet, register_command
from .table_sync import cursor_key, sync_rows

if TYPE_CHECKING:
    from finetui.core.models import Checkpoint


def hint(job: str) -> str:
    return (
        f"{BEST_MARK.strip()} the best · R registers the highlighted one as a model · d registers and deploys it"
        f" · CLI: finetui job checkpoints {job} · {register_command(job)}"
    )


class CheckpointList(Vertical):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.job: str | None = None  # the job whose checkpoints are shown: what R and d act on
        self.checkpoints: list[Checkpoint] = []

    def compose(self) -> ComposeResult:
        table = DataTable(id="checkpoint-table", cursor_type="row")
        table.add_columns(*(name.strip().capitalize() for name in COLUMNS))
        yield table
        yield Static("no job selected", id="checkpoint-note")
        yield Static("", id="checkpoint-hint", classes="muted")

    def show(self, job: str, checkpoints: list[Checkpoint] | None, error: str | None = None) -> None:
        """``job``'s checkpoints, or why there are none (``error``: the backend's one line)."""
        self.job, self.checkpoints = job, list(checkpoints or [])
        table = self.query_one(DataTable)
        rows = [(str(c.step), [Text(cell, style="bold" if c.best else "") for cell in cells(c)]) for c in self.checkpoints]
        sync_rows(table, rows)
        table.display = bool(rows)
        note = self.query_one("#checkpoint-note", Static)
        note.update(f"not available: {error}" if error else "" if rows else none_yet(job))
        note.set_class(bool(error), "error")
        note.display = not rows
        self.query_one("#checkpoint-hint", Static).update(hint(job) if rows else "")

    def highlighted(self) -> Checkpoint | None:
        key = cursor_key(self.query_one(DataTable))
        return next((c for c in self.checkpoints if str(c.step) == key), None)
