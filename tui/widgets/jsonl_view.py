"""JsonlView: one line per JSONL row, for files of any size, on the Line API.

A worker thread builds the row index (core's ``JsonlIndex``) a slice at a time
and posts progress; the virtual height grows as it goes. Only rows on screen
are parsed (``index.row(i)``), and their summaries are cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from textual import on, work
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from finetui.core.printable import printable

if TYPE_CHECKING:
    from textual import events

    from finetui.core.data.jsonl import JsonlIndex

SCAN_SLICE = 16 << 20


def summarize(row: Any) -> str:
    """A row as one line: message count, roles, and the first user turn."""
    if not isinstance(row, dict):
        return f"(not an object: {type(row).__name__})"
    messages = row.get("messages")
    if not isinstance(messages, list):
        return "(no messages list) " + str(row)[:200]
    first = next((m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"), "")
    text = " ".join(str(first or row.get("prompt", "")).split())
    return f"{len(messages):>3} msgs  {text}"


class JsonlView(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"jsonl-view--cursor", "jsonl-view--number", "jsonl-view--error"}
    DEFAULT_CSS = """
    JsonlView { background: $surface; }
    JsonlView > .jsonl-view--cursor { background: $accent 50%; }
    JsonlView > .jsonl-view--number { color: $text-muted; }
    JsonlView > .jsonl-view--error { color: $error; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last row"),
        Binding("enter", "select", "Open row"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Progress(Message):
        def __init__(self, index: JsonlIndex, done: bool, generation: int) -> None:
            super().__init__()
            self.index, self.done, self.rows, self.generation = index, done, index.line_count, generation

    class Failed(Message):
        def __init__(self, path: Path, error: str) -> None:
            super().__init__()
            self.path, self.error = path, error

    class RowHighlighted(Message):
        def __init__(self, view: "JsonlView", row: int) -> None:
            super().__init__()
            self.view, self.row = view, row

    class RowSelected(RowHighlighted):
        pass

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.index: JsonlIndex | None = None
        self.path: Path | None = None
        self._rows = 0  # rows applied from Progress messages (the index grows in its thread)
        self._done = False
        self._generation = 0  # messages from an earlier load() are ignored
        self._summaries: LRUCache[int, tuple[str, bool]] = LRUCache(512)

    # -- loading ------------------------------------------------------------------
    def load(self, path: str | Path, index: JsonlIndex | None = None) -> None:
        """Open ``path``; ``index`` defaults to core's JsonlIndex over it."""
        self.path = Path(path)
        self.index = None
        self._rows, self._done = 0, False
        self._generation += 1
        self._summaries.clear()
        self.virtual_size = Size(0, 0)
        self.cursor = 0
        self._scan(self.path, index, self._generation)

    @property
    def row_count(self) -> int:
        return self._rows

    @property
    def done(self) -> bool:
        return self._done

    @work(thread=True, exclusive=True, group="jsonl-scan")
    def _scan(self, path: Path, index: JsonlIndex | None, generation: int) -> None:
        worker = get_current_worker()
        try:
            if index is None:
                from finetui.core.data.jsonl import JsonlIndex

                index = JsonlIndex(path)
            # a small first slice so the first page paints at once
            done = index.scan(1 << 20)
            self.post_message(self.Progress(index, done, generation))
            while not done and not worker.is_cancelled:
                done = index.scan(SCAN_SLICE)
                self.post_message(self.Progress(index, done, generation))
        except Exception as exc:  # a file we cannot read is shown, not raised
            self.post_message(self.Failed(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))

    @on(Progress)
    def _on_progress(self, event: Progress) -> None:
        if event.generation != self._generation:
            return
        first = self.index is None
        self.index = event.index
        self._rows, self._done = event.rows, event.done
        self.virtual_size = Size(0, self.row_count)
        if first:
            self.cursor = 0
        self.refresh()

    # -- navigation -------------------------------------------------------------------
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(self.row_count - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * self._page())

    def action_jump(self, row: int) -> None:
        self.cursor = max(0, self.row_count - 1) if row < 0 else row

    def action_select(self) -> None:
        if self.row_count:
            self.post_message(self.RowSelected(self, self.cursor))

    def watch_cursor(self, old: int, new: int) -> None:
        if not self.row_count:
            return
        top, page = int(self.scroll_y), self._page()
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True, force=True)
        elif new >= top + page:
            self.scroll_to(y=new - page + 1, animate=False, immediate=True, force=True)
        self.refresh()
        self.post_message(self.RowHighlighted(self, new))

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y
        if row < self.row_count:
            self.cursor = row

    # -- rendering -------------------------------------------------------------------------
    def summary(self, row: int) -> tuple[str, bool]:
        cached = self._summaries.get(row)
        if cached is None:
            try:
                cached = (printable(summarize(self.index.row(row))), False)
            except Exception as exc:
                cached = (printable(f"invalid row: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"), True)
            self._summaries[row] = cached
        return cached

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        row = int(self.scroll_y) + y
        if self.index is None or row >= self.row_count:
            return Strip.blank(width, base)
        text, bad = self.summary(row)
        style = base + self.get_component_rich_style("jsonl-view--cursor") if row == self.cursor else base
        number_style = style + self.get_component_rich_style("jsonl-view--number")
        text_style = style + self.get_component_rich_style("jsonl-view--error") if bad else style
        digits = max(4, len(str(self.row_count)))
        return Strip([Segment(f"{row + 1:>{digits}} ", number_style), Segment(text, text_style)]).crop_extend(0, width, style)

    def visible_rows(self) -> list[str]:
        top = int(self.scroll_y)
        n = min(self._page(), self.row_count - top)
        return [self.summary(top + i)[0] for i in range(max(0, n))]
