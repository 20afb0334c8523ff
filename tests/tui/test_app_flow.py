"""The whole flow through the app, keyboard only, on the offline demo workspace.

select the demo model -> check compute -> browse data -> launch a job -> follow
its log to the end -> register -> create an endpoint -> chat -> delete.
Needs every core piece (demo, training, registry, endpoints, chat client).
"""

from __future__ import annotations

import pytest
from tui_fixtures import wait_for
from textual.widgets import DataTable, Markdown, Static, TabbedContent

from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.jsonl_view import JsonlView
from finetui.tui.widgets.log_view import LogView

pytestmark = pytest.mark.slow


async def test_whole_flow_keyboard_only(demo_backend):
    app = FinetuiApp(lambda: demo_backend, poll_interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.selected_model is not None, timeout=30)
        await pilot.press("c")
        fit = app.query_one("#fit-report", Static)
        await wait_for(pilot, lambda: any(v in str(fit.content) for v in ("FITS", "TIGHT")), timeout=60)

        await pilot.press("3")
        rows = app.query_one(JsonlView)
        await wait_for(pilot, lambda: rows.done and rows.row_count > 0, timeout=30)
        rows.focus()
        await pilot.press("end", "enter")
        assert app.query_one("#data-tabs", TabbedContent).active == "chat-tab"

        await pilot.press("1", "t")
        await wait_for(pilot, lambda: app.query_one("#req-model").value != "", timeout=30)
        await pilot.press("ctrl+s")
        jobs = app.pane("jobs")
        await wait_for(pilot, lambda: jobs.job is not None, timeout=120)
        await wait_for(pilot, lambda: jobs.job.status.terminal, timeout=900, step=0.5)
        assert jobs.job.status.value == "Completed", jobs.job.error
        log = app.query_one(LogView)
        await wait_for(pilot, lambda: log.log_file is not None and log.log_file.complete, timeout=30)
        with open(log.log_file.path, encoding="utf-8", errors="replace") as f:
            last = f.read().rstrip("\n").splitlines()[-1]
        await wait_for(pilot, lambda: log.visible_lines()[-1:] == [last.replace("\t", "    ")], timeout=30)

        await pilot.press("escape", "r")
        await pilot.press("enter")
        await wait_for(pilot, lambda: demo_backend.list_registered(), timeout=300, step=0.5)

        await pilot.press("5", "c")
        await wait_for(pilot, lambda: app.screen.is_modal, timeout=30)
        await pilot.press("enter")  # the newest registered model
        await pilot.press("enter")  # the suggested endpoint name
        endpoints = app.pane("endpoints")
        await wait_for(pilot, lambda: endpoints.running_endpoints(), timeout=600, step=0.5)
        table = app.query_one("#endpoint-table", DataTable)
        table.focus()
        await pilot.press("home", "i", *"Hello", "enter")
        answer = app.query(".chat-assistant")
        await wait_for(pilot, lambda: "first token" in str(app.query_one("#chat-stats", Static).content), timeout=300, step=0.5)
        assert answer and isinstance(answer.first(), Markdown)

        name = endpoints.endpoint.name
        table.focus()
        await pilot.press("d", *name, "enter")
        await wait_for(pilot, lambda: not demo_backend.list_endpoints(), timeout=120, step=0.5)
