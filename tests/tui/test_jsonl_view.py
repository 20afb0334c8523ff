"""JsonlView over the index protocol: rows grow while the scan runs, only visible rows are parsed."""

from __future__ import annotations

import json

from textual.app import App, ComposeResult
from tui_fixtures import chat_rows, wait_for, write_jsonl
from widget_app import WidgetApp

from finetui.tui.widgets.jsonl_view import JsonlView, summarize


class SteppedIndex:
    """The JsonlIndex protocol over a list, revealing ``step`` rows per scan() call; counts parses."""

    def __init__(self, rows: list[str], step: int) -> None:
        self.rows, self.step, self.line_count, self.parsed = rows, step, 0, []

    @property
    def done(self) -> bool:
        return self.line_count == len(self.rows)

    def scan(self, max_bytes: int = 0) -> bool:
        self.line_count = min(len(self.rows), self.line_count + self.step)
        return self.done

    def row(self, i: int):
        self.parsed.append(i)
        return json.loads(self.rows[i])


class ViewApp(App):
    def __init__(self, index) -> None:
        super().__init__()
        self.index = index

    def compose(self) -> ComposeResult:
        yield JsonlView()

    def on_mount(self) -> None:
        view = self.query_one(JsonlView)
        view.load("rows.jsonl", self.index)
        view.focus()


async def test_rows_grow_and_only_visible_rows_are_parsed():
    rows = [json.dumps(r) for r in chat_rows(5000)] + ["{not json"]
    index = SteppedIndex(rows, step=700)
    app = ViewApp(index)
    selected = []
    async with app.run_test(
        size=(80, 24), message_hook=lambda m: selected.append(m) if isinstance(m, JsonlView.RowSelected) else None
    ) as pilot:
        view = app.query_one(JsonlView)
        await wait_for(pilot, lambda: view.done)
        assert view.row_count == 5001 and view.virtual_size.height == 5001
        assert "Question 0:" in view.visible_rows()[0]
        assert len(set(index.parsed)) < 100  # a page, not the file
        await pilot.press("end")
        assert view.cursor == 5000 and view.visible_rows()[-1].startswith("invalid row")
        await pilot.press("up", "enter")
        assert selected[-1].row == 4999
        await pilot.press("home", "pagedown")
        assert view.cursor == view.scrollable_content_region.height


def test_summarize_shapes():
    row = chat_rows(1)[0]
    assert summarize(row).split()[:2] == ["2", "msgs"]
    assert summarize([1, 2]).startswith("(not an object")
    assert summarize({"x": 1}).startswith("(no messages list)")


async def test_core_index_when_present(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", chat_rows(300))

    app = WidgetApp(JsonlView)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(JsonlView)
        view.load(path)
        await wait_for(pilot, lambda: view.done)
        assert view.row_count == 300 and "Question 299:" in view.summary(299)[0]
