"""The Jobs pane's s: the selected job's end on one screen, whole at 80x24 (the app's twin of `job summary`)."""

from __future__ import annotations

import pytest
from test_app_panes import JOB, app_for, running
from test_snapshots import footer_keys, ready, shown_bindings
from textual.widgets import DataTable, TextArea
from tui_fixtures import wait_for

from finetui.tui.screens import TextScreen


async def _summary(pilot) -> TextScreen:
    app = pilot.app
    await wait_for(pilot, lambda: app.query_one("#job-table", DataTable).row_count == 1)
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
    return app.screen


async def test_s_shows_the_jobs_summary_whole_at_80x24(fixed_backend):
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        screen = await _summary(pilot)
        job = fixed_backend.job
        assert str(screen.query_one("#text-title").content) == f"job {JOB} {job.status.value}"
        body = screen.query_one("#text-body", TextArea)
        lines = body.text.splitlines()
        assert lines[0] == f"  model      {job.model}"
        assert "  saved      4 checkpoints; the best kept: step 30 (eval loss 1.3500)" in lines
        assert lines[-1] == f"(`finetui job summary {JOB}`)"
        await pilot.pause()
        # nothing to scroll to: every row, wrapped commands included, is on the screen
        assert body.wrapped_document.height <= body.scrollable_content_region.height
        assert body.max_scroll_y == 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TextScreen))


@pytest.mark.parametrize("color", ["color", "no_color"])
def test_summary_snapshot_80x24(snap_compare, fixed_backend, monkeypatch, color):
    if color == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    settle_jobs_pane = ready("jobs", None, "")  # the log and the plot loaded, as the pane's own snapshots wait

    async def before(pilot):
        app = pilot.app
        await settle_jobs_pane(pilot)
        screen = await _summary(pilot)
        screen.query_one("#text-body", TextArea).cursor_blink = False  # a blinking cursor would depend on timing
        base = app.screen_stack[0]
        await wait_for(pilot, lambda: footer_keys(base) == shown_bindings(base))
        await pilot.pause(0.1)

    assert snap_compare(app_for(fixed_backend), terminal_size=(80, 24), run_before=before)
