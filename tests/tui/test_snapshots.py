"""Snapshot tests: every pane and sub-tab at 80x24 and 120x36, in colour and under NO_COLOR.

Fixed records (no clock, no machine facts). Update only after looking at the
SVGs: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from tui_fixtures import wait_for
from textual.widgets import DataTable, Input, Static, TabbedContent
from textual.widgets._footer import FooterKey  # not exported by textual.widgets (8.2); the footer is built of them

from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.jsonl_view import JsonlView
from finetui.tui.widgets.log_view import LogView
from finetui.tui.widgets.plot import LossPlot
from finetui.tui.widgets.spec_form import SpecForm

SIZES = [(80, 24), (120, 36)]
# (pane, sub-tab or None, keys that show it)
VIEWS = [
    ("models", None, ""),
    ("compute", None, ""),
    ("data", "rows-tab", ""),
    ("data", "chat-tab", "enter"),
    ("data", "validation-tab", "v"),
    ("jobs", "log-tab", ""),
    ("jobs", "metrics-tab", "m"),
    ("jobs", "checkpoints-tab", "c"),
    ("jobs", "details-tab", "right_square_bracket right_square_bracket right_square_bracket"),
    ("jobs", "launch-tab", "n"),
    ("endpoints", "endpoint-details-tab", ""),
    ("endpoints", "endpoint-chat-tab", "i"),
]
TABS = {"data": "#data-tabs", "jobs": "#job-tabs", "endpoints": "#endpoint-tabs"}


def shown_bindings(screen) -> set[str]:
    return {b.binding.description for b in screen.active_bindings.values() if b.binding.show and b.binding.description}


def footer_keys(screen) -> set[str]:
    """What ``screen``'s footer shows (a modal has none of its own: the one beneath it stays on screen)."""
    return {k.description for k in screen.query(FooterKey)}


def ready(pane: str, tab: str | None, keys: str):
    """A run_before script: show the pane, wait until its data is on screen, then show the sub-tab."""

    async def run(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.mounted and app.backend is not None and app.selected_model is not None)
        await pilot.press({"models": "1", "compute": "2", "data": "3", "jobs": "4", "endpoints": "5"}[pane])
        if pane == "models":
            await wait_for(pilot, lambda: not isinstance(app.query_one("#model-details", Static).content, str))
        elif pane == "compute":
            await wait_for(pilot, lambda: "FITS" in str(app.query_one("#fit-report", Static).content))
            await wait_for(pilot, lambda: app.query_one("#compute-table", DataTable).row_count == 1)
        elif pane == "data":
            view = app.query_one(JsonlView)
            await wait_for(pilot, lambda: view.done and "VALID" in str(app.query_one("#validation", Static).content))
            view.focus()
        elif pane == "jobs":
            view = app.query_one(LogView)
            await wait_for(pilot, lambda: view.log_file is not None and view.log_file.complete and view.line_count == 200)
            await wait_for(pilot, lambda: bool(app.query_one(LossPlot).series))
            # the log may arrive by the first scan or by follow; settle the scrollbar the same way
            view.scroll_to(y=0, animate=False, immediate=True)
            await pilot.pause()
            view.action_tail()
        elif pane == "endpoints":
            await wait_for(pilot, lambda: app.pane("endpoints").endpoint is not None)
        if keys:
            await pilot.press(*keys.split())
        if tab is not None:
            await wait_for(pilot, lambda: app.query_one(TABS[pane], TabbedContent).active == tab)
        if tab == "checkpoints-tab":
            await wait_for(pilot, lambda: app.query_one("#checkpoint-table", DataTable).row_count == 4)
        if tab == "launch-tab":
            form = app.query_one(SpecForm)
            await wait_for(pilot, lambda: bool(form.overrides))
            # the form names the data pane's file, under this test's tmp folder: show a fixed one
            form.set_request(train_file="/workspace/demo/data/train.jsonl")
            jobs = app.pane("jobs")  # its cost line follows: wait for the one for this file
            await wait_for(pilot, lambda: (jobs.cost_for or {}).get("train_file") == "/workspace/demo/data/train.jsonl")
        for field in app.query(Input):  # a blinking cursor would make the snapshot depend on timing
            field.cursor_blink = False
        # the footer follows focus a refresh later; on a loaded machine that can be after a fixed pause
        await wait_for(pilot, lambda: footer_keys(app.screen) == shown_bindings(app.screen))
        await pilot.pause(0.1)

    return run


@pytest.mark.parametrize("color", ["color", "no_color"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane,tab,keys", VIEWS, ids=[f"{p}-{t}" if t else p for p, t, _ in VIEWS])
def test_view_snapshot(snap_compare, fixed_backend, monkeypatch, pane, tab, keys, size, color):
    if color == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    app = FinetuiApp(lambda: fixed_backend, poll_interval=None, clock=lambda: 1_760_000_100.0)
    assert snap_compare(app, terminal_size=size, run_before=ready(pane, tab, keys))
