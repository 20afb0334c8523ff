"""Snapshot tests: each pane at 80x24 and 120x40 over fixed records (no clock, no machine facts).

Update only after looking at the diff: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from tui_fixtures import wait_for
from textual.widgets import DataTable, Static

from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.jsonl_view import JsonlView
from finetui.tui.widgets.log_view import LogView
from finetui.tui.widgets.plot import LossPlot

SIZES = [(80, 24), (120, 40)]


def ready(pane: str):
    """A run_before script: show the pane, then wait until its data is on screen."""

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
            await wait_for(pilot, lambda: view.done or "not available" in str(app.query_one("#rows-status", Static).content))
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
        await pilot.pause(0.1)

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", ["models", "compute", "data", "jobs", "endpoints"])
def test_pane_snapshot(snap_compare, fixed_backend, pane, size):
    app = FinetuiApp(lambda: fixed_backend, poll_interval=None, clock=lambda: 1_760_000_100.0)
    assert snap_compare(app, terminal_size=size, run_before=ready(pane))
