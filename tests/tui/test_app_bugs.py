"""Issue 14's app bugs, each driven by keys through Pilot over a fixed backend (and a real chat server)."""

from __future__ import annotations

import dataclasses

from chat_server import ChatServer
from test_app_panes import app_for, plain, running, text_of
from textual.widgets import DataTable, TabbedContent
from tui_fixtures import T0, wait_for

from finetui.tui.widgets.chat import ChatConsole

PRIMARY = "pk-secret-primary-0123456789"


def two_endpoints(backend, url: str) -> None:
    second = dataclasses.replace(
        backend.endpoint, name="tiny-chat-ep2", base_url=url, scoring_uri=f"{url}/score", started_at=T0 + 20
    )
    backend.endpoints = [backend.endpoint, second]


def busy(app, group: str) -> bool:
    return any(w.group == group and not w.is_finished for w in app.workers)


async def polled(pilot, app, backend) -> None:
    """One poll of the endpoints pane, waited for by its effect (the list was read and shown)."""
    before = backend.endpoint_lists
    app.pane("endpoints").poll()
    await wait_for(pilot, lambda: backend.endpoint_lists > before and not busy(app, "endpoints-pane-loaded_endpoints"))
    await pilot.pause()  # the worker posted its result before it ended: let the pane handle it


async def test_poll_keeps_cursor_chat_and_revealed_keys_on_the_second_row(fixed_backend):
    with ChatServer(PRIMARY) as server:
        two_endpoints(fixed_backend, server.url)
        async with running(fixed_backend, (100, 30), "5") as (app, pilot):
            table = app.query_one("#endpoint-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2)
            pane = app.pane("endpoints")
            await pilot.press("down")
            await wait_for(pilot, lambda: pane.endpoint is not None and pane.endpoint.name == "tiny-chat-ep2")
            await pilot.press("v")
            await wait_for(pilot, lambda: pane.revealed)
            await pilot.press("i", *"hello", "enter")
            console = app.query_one(ChatConsole)
            await wait_for(pilot, lambda: len(console.messages) == 2, timeout=30)
            for _ in range(3):
                await polled(pilot, app, fixed_backend)
            assert table.cursor_row == 1 and pane.endpoint.name == "tiny-chat-ep2"
            assert PRIMARY in text_of(app, "#endpoint-details")
            assert [m["role"] for m in console.messages] == ["user", "assistant"]
            assert len(console.query(".chat-assistant")) == 1
            # a second turn goes to the same endpoint, with the first in its history
            await pilot.press(*"again", "enter")
            await wait_for(pilot, lambda: len(console.messages) == 4, timeout=30)
            assert console.messages[-1]["content"].startswith("[2] ")
            assert server.requests == 2


async def test_new_endpoint_row_does_not_move_the_cursor(fixed_backend):
    async with running(fixed_backend, (100, 30), "5") as (app, pilot):
        table = app.query_one("#endpoint-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        first = fixed_backend.endpoint
        fixed_backend.endpoints = [dataclasses.replace(first, name="aaa-first"), first]
        await polled(pilot, app, fixed_backend)
        assert table.row_count == 2
        assert app.pane("endpoints").endpoint.name == "tiny-chat-ep"
        assert table.cursor_row == 1  # the row moved down; the cursor went with it
        assert app.query_one("#endpoint-tabs", TabbedContent).active == "endpoint-details-tab"
        assert "tiny-chat-ep" in plain(app.query_one("#endpoint-details").content)


async def test_metrics_tab_renders_under_no_color_and_legend_shows_the_last_loss(fixed_backend, monkeypatch):
    from finetui.core.models import MetricPoint
    from finetui.tui.widgets.plot import LossPlot
    from tui_fixtures import metric_points

    # the Trainer ends with train_loss: the run's mean, not the curve's last value
    points = [MetricPoint(p["name"], p["value"], p["step"]) for p in metric_points(40)]
    fixed_backend.job_metrics = lambda name: [*points, MetricPoint("train_loss", 1.4152, 40)]
    monkeypatch.setenv("NO_COLOR", "1")
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        plot = app.query_one(LossPlot)
        await wait_for(pilot, lambda: bool(plot.series))
        await pilot.press("m")
        await wait_for(pilot, lambda: app.query_one("#job-tabs", TabbedContent).active == "metrics-tab")
        await pilot.pause()
        screen = app.export_screenshot()
        assert app.is_running and app.return_code is None
        legend = plain(app.query_one("#plot-legend").content)
        assert "loss 0.83 @40" in legend and "eval_loss 1.225 @36" in legend
        assert "run mean 1.415" in legend
        assert "step" in screen  # the x axis is labelled
        await pilot.press("z")  # the plot has the focus after m: zoom on the last 50 steps, then 10
        await pilot.press("z")
        assert "z: last 10" in plain(app.query_one("#plot-legend").content)


async def test_pane_keys_keep_working_after_a_sub_tab_switch(fixed_backend):
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        await wait_for(pilot, lambda: app.query_one("#job-table", DataTable).row_count == 1)
        tabs = app.query_one("#job-tabs", TabbedContent)
        await pilot.press("l", "m")
        assert tabs.active == "metrics-tab"
        assert "n" in app.screen.active_bindings  # the footer still offers the pane's keys
        await pilot.press("l")
        assert tabs.active == "log-tab"
        await pilot.press("right_square_bracket")
        assert tabs.active == "metrics-tab"
        await pilot.press("n")
        await wait_for(pilot, lambda: tabs.active == "launch-tab")
        # Data: Enter opens a row as a chat; v still validates, and shows the report; Esc goes back
        await pilot.press("3")
        data_tabs = app.query_one("#data-tabs", TabbedContent)
        await wait_for(pilot, lambda: app.query_one("#rows").row_count > 0)
        app.query_one("#rows").focus()
        await pilot.press("enter")
        assert data_tabs.active == "chat-tab"
        await pilot.press("v")
        assert data_tabs.active == "validation-tab"
        await pilot.press("escape")
        assert data_tabs.active == "rows-tab"


async def test_endpoint_keys_show_on_the_details_tab(fixed_backend):
    async with running(fixed_backend, (80, 24), "5") as (app, pilot):
        pane = app.pane("endpoints")
        await wait_for(pilot, lambda: pane.endpoint is not None)
        tabs = app.query_one("#endpoint-tabs", TabbedContent)
        await pilot.press("i")
        assert tabs.active == "endpoint-chat-tab"
        await pilot.press("escape", "v")  # leave the message field, then reveal
        await wait_for(pilot, lambda: pane.revealed)
        assert tabs.active == "endpoint-details-tab"


async def test_help_lists_every_binding_of_every_pane(fixed_backend):
    from textual.binding import Binding

    from finetui.tui.app import PANES

    async with running(fixed_backend, (100, 80), "question_mark") as (app, pilot):
        text = plain(app.screen.query_one("#help-text").content)
        assert "i             chat with the endpoint" in text and "Enter chat" not in text
        for _, label, cls in PANES:
            section = text.split(f"\n{label}\n", 1)[1].split("\n\n", 1)[0]
            for widget in (cls, *cls.HELP_WIDGETS):
                for binding in Binding.make_bindings(widget.__dict__.get("BINDINGS", [])):
                    assert app.get_key_display(binding) in section, (label, binding.key)
        for key in ("^s", "^l", "^y", "^r", "tab", "esc", "n ", "N ", "]"):
            assert f"  {key}" in text, key


async def test_launch_form_fits_80_columns_and_marks_what_the_user_changed(fixed_backend):
    from tui_fixtures import screen_text

    from finetui.tui.widgets.spec_form import SpecForm

    app = app_for(fixed_backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.mounted and app.selected_model == "tiny-chat:1")
        await pilot.press("t")
        form = app.query_one(SpecForm)
        await wait_for(pilot, lambda: "learning_rate" in form.overrides)
        # a long path shows its end (48 columns of it), so two files can be told apart
        tail = str(fixed_backend.paths.data / "train.jsonl")[-44:]
        await wait_for(pilot, lambda: tail in screen_text(app))
        await wait_for(pilot, lambda: "^s Launch" in screen_text(app))  # the footer offers the form's keys
        form.scroll_to_widget(form.query_one("#spec-per_device_eval_batch_size"), animate=False)
        await wait_for(pilot, lambda: "per_device_eval_batch_size" in screen_text(app))
        screen = screen_text(app)
        assert "  per_device_train_batch_size 1 " in screen
        assert "  per_device_eval_batch_size  1 " in screen
        assert "★ learning_rate" in screen and "model: 0.0001 (default 5e-06)" in screen
        form.query_one("#spec-lora_r").value = "16"
        await pilot.pause()
        assert plain(app.query_one("#label-lora_r").content).strip() == "✎ lora_r"
        form.query_one("#spec-learning_rate").value = "0.0002"
        await pilot.pause()
        assert plain(app.query_one("#label-learning_rate").content).strip() == "✎ learning_rate"
        form.query_one("#spec-learning_rate").value = "0.0001"  # back to the model's value
        await pilot.pause()
        assert plain(app.query_one("#label-learning_rate").content).strip() == "★ learning_rate"


async def test_log_filter_does_not_leak_to_another_job(fixed_backend):
    from finetui.tui.widgets.log_view import LogView

    first = fixed_backend.job
    fixed_backend.list_jobs = lambda: [dataclasses.replace(first, name="tiny-chat-20250102-000000-bcde"), first]
    async with running(fixed_backend, (100, 30), "4") as (app, pilot):
        await wait_for(pilot, lambda: app.query_one("#job-table", DataTable).row_count == 2)
        view = app.query_one(LogView)
        await wait_for(pilot, lambda: view.line_count == 200)
        await pilot.press("l", "f", *"step 12", "enter")
        await wait_for(pilot, lambda: view.matches is not None and view.filter_on)
        app.query_one("#job-table").focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: app.pane("jobs").job.name == first.name)
        await wait_for(pilot, lambda: view.line_count == 200)
        status = plain(app.query_one("#log-status").content)
        assert not view.filter_on and view.needle == "" and "matches" not in status
        assert app.query_one("#log-find").value == ""


async def test_cancel_dialog_says_checkpoints_are_kept(fixed_backend):
    from finetui.core.models import JobStatus

    fixed_backend.job = dataclasses.replace(fixed_backend.job, status=JobStatus.RUNNING, ended_at=None)
    async with running(fixed_backend, (100, 30), "4") as (app, pilot):
        await wait_for(pilot, lambda: app.pane("jobs").job is not None)
        await pilot.press("x")
        question = plain(app.screen.query_one("#confirm-question").content)
        assert "checkpoints it has written are kept" in question and "lost" not in question
        await pilot.press("n")


async def test_raw_view_is_whole_and_follows_the_endpoint(fixed_backend):
    with ChatServer(PRIMARY) as server:
        two_endpoints(fixed_backend, server.url)
        async with running(fixed_backend, (100, 40), "5") as (app, pilot):
            pane = app.pane("endpoints")
            await wait_for(pilot, lambda: app.query_one("#endpoint-table", DataTable).row_count == 2)
            await pilot.press("down")
            await wait_for(pilot, lambda: pane.endpoint is not None and pane.endpoint.name == "tiny-chat-ep2")
            await pilot.press("i", *"hello", "enter")
            console = app.query_one(ChatConsole)
            await wait_for(pilot, lambda: len(console.messages) == 2, timeout=30)
            await pilot.press("ctrl+r")
            raw = plain(app.query_one("#chat-raw").content)
            # every event of the streamed answer is there, each on its own line
            assert raw.count("data: ") == 8 and "data: [DONE]" in raw and PRIMARY not in raw
            assert app.query_one("#chat-raw-box").display
            await pilot.press("escape")  # leave the message field, then go to the first endpoint
            app.query_one("#endpoint-table").focus()
            await pilot.press("up")
            await wait_for(pilot, lambda: pane.endpoint.name == "tiny-chat-ep")
            assert plain(app.query_one("#chat-raw").content).strip() == "no request yet"


async def test_esc_clears_the_models_filter(fixed_backend):
    async with running(fixed_backend, (80, 24)) as (app, pilot):
        table = app.query_one("#model-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("slash", *"nothing-like-this")
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert app.query_one("#model-filter").value == "" and app.focused is table


async def test_quit_dialog_aligns_the_endpoint_list(fixed_backend):
    fixed_backend.endpoints = [fixed_backend.endpoint, dataclasses.replace(fixed_backend.endpoint, name="a-much-longer-endpoint")]
    async with running(fixed_backend, (100, 30)) as (app, pilot):
        await wait_for(pilot, lambda: len(app.pane("endpoints").endpoints) == 2)
        await pilot.press("q")
        lines = [line for line in plain(app.screen.query_one("#confirm-question").content).splitlines() if " up " in line]
        assert len(lines) == 2 and len({line.index(" up ") for line in lines}) == 1
        await pilot.press("n")


async def test_deploy_from_models_pane_then_compare_two_endpoints(fixed_backend):
    from finetui.core.models import RegisteredModel
    from finetui.tui.screens import PickScreen, PromptScreen
    from finetui.tui.widgets.compare import CompareScreen

    with ChatServer(PRIMARY) as server:
        fixed_backend.endpoint = dataclasses.replace(fixed_backend.endpoint, base_url=server.url)
        fixed_backend.endpoints = [fixed_backend.endpoint]
        fixed_backend.serve_url = server.url
        fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
        app = app_for(fixed_backend)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.mounted and app.selected_model == "tiny-chat:1")
            await pilot.press("d")  # in the Models pane
            await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
            assert [v for v, _ in app.screen.choices] == ["tiny-chat-ft:1"]
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
            assert app.screen.query_one("#prompt-input").value == "tiny-chat-ft-ep"
            await pilot.press("enter")
            table = app.query_one("#endpoint-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2)
            assert app.query_one("#panes", TabbedContent).active == "endpoints"
            table.focus()
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
            await pilot.press(*"hello", "enter")
            consoles = app.screen.consoles
            await wait_for(pilot, lambda: all(len(c.messages) == 2 for c in consoles), timeout=30)
            assert server.requests == 2
            assert [c.url for c in consoles] == [server.url, server.url]
            await pilot.press("escape")
            assert not isinstance(app.screen, CompareScreen)


async def test_plus_zooms_the_view_to_the_whole_screen(fixed_backend):
    from tui_fixtures import screen_text

    from finetui.tui.widgets.log_view import LogView

    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        view = app.query_one(LogView)
        await wait_for(pilot, lambda: view.line_count == 200)
        narrow = view.size.width
        await pilot.press("l", "plus")
        await wait_for(pilot, lambda: view.size.width > narrow)
        assert view.size.width >= 78 and "Jobs, newest first" not in screen_text(app)
        await pilot.press("plus")
        await wait_for(pilot, lambda: view.size.width == narrow)


async def test_a_job_listed_by_a_poll_before_its_submit_returns_is_one_row(fixed_backend):
    """The submit's own answer and a poll's list can both bring the new job (the poll ran after the record was
    written, before the answer arrived): it was listed twice, and the jobs table crashed the app (DuplicateKey)."""
    new = dataclasses.replace(fixed_backend.job, name="tiny-chat-20250102-000000-beef", created_at=T0 + 60)
    async with running(fixed_backend, (120, 36), "4") as (app, pilot):
        jobs = app.pane("jobs")
        table = app.query_one("#job-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        jobs.loaded_jobs([new, fixed_backend.job], None)  # the poll's list, with the new job in it
        jobs.loaded_submit(new, None)  # then the submit's answer
        jobs.loaded_progress({new.name: None}, None)  # the next progress read shows the rows again
        # (read before the reload loaded_submit asks for: this backend's list never has the new job)
        assert [j.name for j in jobs.jobs] == [new.name, fixed_backend.job.name]
        assert [r.key.value for r in table.ordered_rows] == [new.name, fixed_backend.job.name]
