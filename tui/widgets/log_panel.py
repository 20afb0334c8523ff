"""LogPanel: a LogView with its search/filter bar and a status line (lines, scan, search, wrap, follow)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from .log_view import LogView


class LogPanel(Vertical):
    """A LogView with its search/filter bar and a status line."""

    BINDINGS = [
        Binding("slash", "find('search')", "Search"),
        Binding("f", "find('filter')", "Filter"),
        Binding("escape", "clear_find", "clear the search or filter", show=False),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._mode = "search"

    def compose(self) -> ComposeResult:
        yield LogView(id="log-view")
        yield Input(placeholder="search (Enter) · Esc to close", id="log-find", classes="hidden")
        yield Static("", id="log-status", classes="status-line")

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def load(self, path: str | Path, *, follow: bool = True) -> None:
        """Show another log, with the search bar closed and emptied."""
        box = self.query_one("#log-find", Input)
        box.value, self._mode = "", "search"
        box.add_class("hidden")
        self.view.load(path, follow=follow)

    def action_find(self, mode: str) -> None:
        self._mode = mode
        box = self.query_one("#log-find", Input)
        box.placeholder = "filter: show only lines containing… (Enter)" if mode == "filter" else "search (Enter; n/N next/prev)"
        box.remove_class("hidden")
        box.focus()

    def action_clear_find(self) -> None:
        box = self.query_one("#log-find", Input)
        box.value = ""
        box.add_class("hidden")
        self.view.search("", filter_on=False)
        self.view.focus()

    @on(Input.Changed, "#log-find")
    def _typed(self, event: Input.Changed) -> None:
        """Filter and search as you type (each keystroke replaces the last scan: the workers are exclusive)."""
        event.stop()
        if not self.query_one("#log-find").has_class("hidden"):
            self.view.search(event.value.strip(), filter_on=self._mode == "filter")

    @on(Input.Submitted, "#log-find")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.view.search(event.value.strip(), filter_on=self._mode == "filter")
        event.input.add_class("hidden")
        self.view.focus()

    @on(LogView.Changed)
    def _status(self) -> None:
        view = self.view
        log = view.log_file
        if log is None:
            text = "no log"
        else:
            parts = [f"{log.line_count:,} lines"]
            if not log.complete:
                parts.append("scanning…")
            if view.needle:
                n = "…" if view.matches is None else f"{len(view.matches):,}"
                parts.append(f"{'filter' if view.filter_on else 'search'} {view.needle!r}: {n} matches")
            if view.wrap:
                parts.append("wrap")
            parts.append("following" if view.follow else "paused (End to follow)")
            text = " · ".join(parts)
        self.query_one("#log-status", Static).update(text)
