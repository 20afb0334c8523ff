"""The Data pane's path field: completes as you type (→ takes the suggestion), folders and regular files only."""

from __future__ import annotations

import asyncio

from textual.binding import Binding
from textual.suggester import Suggester
from textual.widgets import Input


class PathSuggester(Suggester):
    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)  # folders change: no stale completions

    async def get_suggestion(self, value: str) -> str | None:
        from finetui.core.data.browse import complete_path

        # a slow or network folder must not stall the screen: list it off the event loop
        return await asyncio.to_thread(complete_path, value)


class PathInput(Input):
    # letters go into the field, so the footer shows only these: how to complete, open and leave
    BINDINGS = [
        Binding("right", "cursor_right", "Complete", key_display="→"),
        Binding("enter", "submit", "Open"),
        Binding("escape", "app.leave_input", "Leave"),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(placeholder="o: open a path", compact=True, suggester=PathSuggester(), **kw)
