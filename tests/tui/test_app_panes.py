"""Pilot tests: each pane over a real local workspace (and a fixed backend where the clock matters)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot
from tui_fixtures import wait_for
from textual.widgets import DataTable, Static, TabbedContent

from finetui.tui.app import PANES, FinetuiApp
from finetui.tui.commands import palette_entries
from finetui.tui.widgets.jsonl_view import JsonlView
from finetui.tui.widgets.log_view import LogView
from finetui.tui.widgets.plot import LossPlot
from finetui.tui.widgets.spec_form import SpecForm

JOB = "tiny-chat-20250101-000000-abcd"


def app_for(backend, **kw) -> FinetuiApp:
    return FinetuiApp(lambda: backend, poll_interval=None, clock=lambda: 1_760_000_100.0, **kw)


@asynccontextmanager
async def running(backend, size: tuple[int, int], *keys: str) -> AsyncIterator[tuple[FinetuiApp, Pilot]]:
    """The app over ``backend`` at a fixed terminal size, mounted, then ``keys`` pressed (a pane's number, say)."""
    app = app_for(backend)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.mounted)
        await pilot.press(*keys)
        yield app, pilot


def text_of(app, selector: str) -> str:
    return plain(app.query_one(selector, Static).content)


def plain(renderable) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_number_keys_switch_panes(local_ws):
    async with running(local_ws, (80, 24)) as (app, pilot):
        for i, (pid, _, _) in enumerate(PANES):
            await pilot.press(str(i + 1))
            assert app.query_one("#panes", TabbedContent).active == pid
        await pilot.press("question_mark")
        assert "finetui" in plain(app.screen.query_one("#help-text", Static).content)
        await pilot.press("escape")
        await pilot.press("1")
        assert app.query_one("#panes", TabbedContent).active == "models"


async def test_models_filter_details_and_compute_check(local_ws):
    async with running(local_ws, (80, 24)) as (app, pilot):
        table = app.query_one("#model-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        assert app.selected_model == "tiny-chat:1"
        await wait_for(pilot, lambda: "Model defaults" in text_of(app, "#model-details"))
        assert "learning_rate=0.0001" in text_of(app, "#model-details")
        await pilot.press("slash", *"nothing-like-this")
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press(*["backspace"] * 17, "enter")
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("c")
        assert app.query_one("#panes", TabbedContent).active == "compute"
        await wait_for(pilot, lambda: any(v in text_of(app, "#fit-report") for v in ("FITS", "TIGHT", "DOES NOT FIT")))
        assert "tiny-chat:1 on cpu" in text_of(app, "#fit-report")
        assert app.query_one("#compute-table", DataTable).row_count >= 1


async def test_data_rows_last_row_and_chat(local_ws):
    async with running(local_ws, (80, 24), "3") as (app, pilot):
        view = app.query_one(JsonlView)
        await wait_for(pilot, lambda: view.done)
        names = [p.name for p in app.pane("data").files]
        assert names == ["test.jsonl", "train.jsonl"]
        assert view.row_count == 20  # test.jsonl sorts first
        app.pane("data").open_file(app.pane("data").files[1])
        await wait_for(pilot, lambda: view.done and view.row_count == 120)
        assert "Question 0:" in view.visible_rows()[0]
        view.focus()
        await pilot.press("end")
        assert view.cursor == 119 and "Question 119:" in view.visible_rows()[-1]
        await pilot.press("enter")
        assert app.query_one("#data-tabs", TabbedContent).active == "chat-tab"
        assert "Answer 119" in text_of(app, "#conversation")


async def test_data_validation_report(local_ws):
    async with running(local_ws, (80, 24), "3", "v") as (app, pilot):
        await wait_for(pilot, lambda: not text_of(app, "#validation").startswith(("press", "validating")))
        report = text_of(app, "#validation")
        assert "VALID" in report, report


async def test_jobs_list_log_metrics(local_ws):
    async with running(local_ws, (80, 24), "4") as (app, pilot):
        table = app.query_one("#job-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        view = app.query_one(LogView)
        await wait_for(pilot, lambda: view.log_file is not None and view.log_file.complete and view.line_count == 300)
        assert view.visible_lines()[-1].startswith("step 300/300")
        await wait_for(pilot, lambda: "loss" in app.query_one(LossPlot).series)
        assert len(app.query_one(LossPlot).series["eval_loss"]) == 8
        # search, then a filter that hides the other lines
        view.focus()
        await pilot.press("f", *"step 12", "enter")
        await wait_for(pilot, lambda: view.matches is not None)
        assert all("step 12" in line for line in view.visible_lines()) and view.line_count == 11
        # cancel is refused for a finished job, with a message instead of a dialog
        await pilot.press("escape", "x")
        assert not app.screen.is_modal


async def test_launch_form_marks_overrides_and_checks_values(local_ws):
    async with running(local_ws, (100, 30)) as (app, pilot):
        await wait_for(pilot, lambda: app.selected_model == "tiny-chat:1")
        await pilot.press("t")
        assert app.query_one("#panes", TabbedContent).active == "jobs"
        form = app.query_one(SpecForm)
        await wait_for(pilot, lambda: "learning_rate" in form.overrides)
        assert plain(app.query_one("#label-learning_rate").content).startswith("★")
        assert "default 5e-06" in plain(app.query_one("#note-learning_rate").content)
        assert form.request_values()["model"] == "tiny-chat:1"
        assert form.request_values()["train_file"].endswith("train.jsonl")
        form.query_one("#spec-lora_r").value = "-3"
        await pilot.pause()
        assert "lora_r" in text_of(app, "#form-error")
        form.query_one("#spec-lora_r").value = "16"
        await pilot.pause()
        assert form.spec_changes() == {"lora_r": 16}


async def test_endpoints_keys_masked_until_revealed(fixed_backend):
    async with running(fixed_backend, (100, 30), "5") as (app, pilot):
        await wait_for(pilot, lambda: app.query_one("#endpoint-table", DataTable).row_count == 1)
        pane = app.pane("endpoints")
        await wait_for(pilot, lambda: pane.endpoint is not None)
        assert "Uptime       1m30s" in text_of(app, "#endpoint-details")
        await pilot.press("v")
        await wait_for(pilot, lambda: pane.keys is not None)
        assert "pk-secret-primary-0123456789" in text_of(app, "#endpoint-details")
        await pilot.press("v")
        assert "secret" not in text_of(app, "#endpoint-details")
        # delete asks for the name; a wrong name does nothing
        await pilot.press("d", *"wrong", "enter")
        assert "exactly" in plain(app.screen.query_one("#prompt-error").content)
        await pilot.press("escape")


async def test_quit_lists_running_endpoints(fixed_backend):
    async with running(fixed_backend, (100, 30)) as (app, pilot):
        await wait_for(pilot, lambda: app.pane("endpoints").endpoints)
        await pilot.press("q")
        question = plain(app.screen.query_one("#confirm-question").content)
        assert "tiny-chat-ep  up 1m30s" in question
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q", "y")
    assert app.return_code == 0


async def test_unavailable_backend_is_reported(tmp_path):
    def broken():
        raise RuntimeError("cannot open workspace")

    app = FinetuiApp(broken, poll_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.mounted)
        await wait_for(pilot, lambda: app.backend_error is not None)
        assert "not available: cannot open workspace" in text_of(app, "#status")


def test_palette_has_an_entry_for_every_pane_action():
    app = FinetuiApp(None)
    titles = [t for t, _, _ in palette_entries(app)]
    for pid, label, cls in PANES:
        assert f"{label}: show pane" in titles
        for action, title, _ in cls.ACTIONS:
            assert hasattr(cls, f"action_{action}"), f"{cls.__name__} lacks action_{action}"
            assert f"{label}: {title}" in titles


async def test_command_palette_runs_a_pane_action(fixed_backend):
    app = app_for(fixed_backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.mounted and app.backend is not None)
        await pilot.press("ctrl+p", *"reveal or hide", "enter")
        await wait_for(pilot, lambda: app.query_one("#panes", TabbedContent).active == "endpoints")
        await wait_for(pilot, lambda: app.pane("endpoints").keys is not None)
