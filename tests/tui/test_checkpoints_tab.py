"""The Jobs pane's Checkpoints tab (issue 15): a job's saved checkpoints, the best marked; R registers one, d deploys it."""

from __future__ import annotations

import dataclasses
import shlex

from test_app_panes import JOB, plain, running, text_of
from test_snapshots import footer_keys
from textual.widgets import DataTable, OptionList, TabbedContent
from tui_fixtures import wait_for

from finetui.core.command_log import CommandLog
from finetui.core.models import JobStatus
from finetui.tui.screens import PickScreen, PromptScreen
from finetui.tui.widgets.checkpoint_list import CheckpointList


async def open_checkpoints(pilot, rows: int | None = 4) -> CheckpointList:
    """Pane 4's first job, then c: the Checkpoints tab, once the list (of ``rows`` rows) is on it."""
    app = pilot.app
    await wait_for(pilot, lambda: app.query_one("#job-table", DataTable).row_count == 1)
    await pilot.press("c")
    await wait_for(pilot, lambda: app.query_one("#job-tabs", TabbedContent).active == "checkpoints-tab")
    view = app.query_one(CheckpointList)
    if rows is not None:
        await wait_for(pilot, lambda: app.query_one("#checkpoint-table", DataTable).row_count == rows)
    return view


def table_rows(app) -> list[list[str]]:
    table = app.query_one("#checkpoint-table", DataTable)
    return [[plain(cell).strip() for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_tab_lists_each_checkpoint_with_its_losses_and_marks_the_best(fixed_backend):
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        await open_checkpoints(pilot)
        assert table_rows(app) == [
            ["10", "0.25", "1.7300", "1.8500"],
            ["20", "0.50", "1.4300", "1.6000"],
            ["* 30", "0.75", "1.1300", "1.3500"],
            ["40", "1.00", "0.8300", "1.3750"],
        ]
        hint = " ".join(text_of(app, "#checkpoint-hint").split())
        assert "* the best" in hint and "R registers" in hint and "d registers and deploys" in hint
        assert f"finetui job checkpoints {JOB}" in hint
        assert f"finetui model register --job {JOB} --checkpoint STEP|best --name NAME" in hint
        await wait_for(pilot, lambda: {"Register ckpt", "Deploy ckpt"} <= footer_keys(app))
        await pilot.press("right_square_bracket")  # on another tab the footer keeps its room for that tab's keys
        await wait_for(pilot, lambda: footer_keys(app) == {"Tab", "New", "Register", "Help", "Quit"})
        await pilot.press("question_mark")
        help_text = plain(app.screen.query_one("#help-text").content)
        assert "register the highlighted checkpoint as a model" in help_text
        assert "register the highlighted checkpoint, then deploy it" in help_text


async def test_no_checkpoints_is_said_in_words_and_an_error_shows_its_line(fixed_backend):
    fixed_backend.checkpoints = []
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        await open_checkpoints(pilot, rows=None)
        await wait_for(pilot, lambda: text_of(app, "#checkpoint-note").strip() == f"job {JOB} has no complete checkpoints yet")
        assert "Register ckpt" not in footer_keys(app)  # nothing to register

        def refused(name):
            raise fixed_backend._no("list checkpoints yet")

        fixed_backend.job_checkpoints = refused
        await pilot.press("l", "c")  # shown again: read again
        expected = "not available: the fixed backend cannot list checkpoints yet; it shows constant records"
        await wait_for(pilot, lambda: " ".join(text_of(app, "#checkpoint-note").split()) == expected)


async def test_a_running_job_s_checkpoints_are_read_again_on_the_pane_s_poll(fixed_backend):
    fixed_backend.job = dataclasses.replace(fixed_backend.job, status=JobStatus.RUNNING, ended_at=None)
    saved, fixed_backend.checkpoints = fixed_backend.checkpoints, fixed_backend.checkpoints[:2]
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        await open_checkpoints(pilot, rows=2)
        fixed_backend.checkpoints = saved[:3]  # the job saved step 30 meanwhile
        app.pane("jobs").poll()
        await wait_for(pilot, lambda: app.query_one("#checkpoint-table", DataTable).row_count == 3)
        assert table_rows(app)[-1][0] == "* 30"


async def test_R_registers_the_highlighted_checkpoint_and_the_models_pane_lists_it(fixed_backend, tmp_path):
    fixed_backend.paths.root = tmp_path  # the command log goes in the backend's state folder
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        view = await open_checkpoints(pilot)
        await pilot.press("down", "down")
        assert view.highlighted() is not None and view.highlighted().best
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        assert app.screen.query_one("#prompt-input").value == "tiny-chat-ft"  # as r offers for the final model
        await pilot.press("enter")
        await wait_for(pilot, lambda: fixed_backend.checkpoint_registrations)
        assert fixed_backend.checkpoint_registrations == [(JOB, "30", "tiny-chat-ft", None, "")]
        models = app.query_one("#model-table", DataTable)
        await wait_for(pilot, lambda: "tiny-chat-ft:1" in [key.value for key in models.rows])
        await wait_for(pilot, lambda: CommandLog(tmp_path).read())
    (entry,) = CommandLog(tmp_path).read()
    assert (entry.source, entry.action, entry.outcome) == ("app", "model register", "ok")
    argv = shlex.split(entry.finetui)
    assert argv[argv.index("model") :] == ["model", "register", "--job", JOB, "--checkpoint", "30", "--name", "tiny-chat-ft"]


async def test_d_registers_the_checkpoint_then_opens_the_endpoint_form_with_it(fixed_backend):
    async with running(fixed_backend, (100, 30), "4") as (app, pilot):
        await open_checkpoints(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("#prompt-input").value = "tiny-chat-step10"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
        assert fixed_backend.checkpoint_registrations == [(JOB, "10", "tiny-chat-step10", None, "")]
        picker = app.screen.query_one(OptionList)
        assert picker.get_option_at_index(picker.highlighted).id == "tiny-chat-step10:1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("enter")  # the endpoint's default name
        await wait_for(pilot, lambda: [e.model for e in fixed_backend.endpoints][-1] == "tiny-chat-step10:1")
