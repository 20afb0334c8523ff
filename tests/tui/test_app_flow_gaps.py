"""Issue 14's remaining flow gaps, driven by keys through Pilot: job progress in the list, the log's
wrap and horizontal scroll, the Data pane opening any path, empty states."""

from __future__ import annotations

import dataclasses

from test_app_panes import running, text_of
from textual.widgets import DataTable
from tui_fixtures import T0, FixedBackend, screen_text, wait_for

from finetui.core.models import JobStatus, LogChunk, MetricPoint
from finetui.core.progress import job_progress

NOW = 1_760_000_100.0  # app_for's clock: T0 + 100
RUNNING = "tiny-chat-20250101-000100-ef01"


class TwoJobsBackend(FixedBackend):
    """The fixed backend with a second job of the same model, running: step 6 of 10, one step per 10 s."""

    def list_jobs(self):
        running = dataclasses.replace(
            self.job, name=RUNNING, status=JobStatus.RUNNING, created_at=T0 + 30, started_at=T0 + 40, ended_at=None
        )
        return [running, self.job]

    def job_metrics(self, name):
        if name != RUNNING:
            return super().job_metrics(name)
        return [MetricPoint("loss", 2.0 - step / 10, step, timestamp=T0 + 40 + 10 * step) for step in range(1, 7)]

    def read_log(self, name, offset=0, max_bytes=1 << 20):
        if name != RUNNING:
            return super().read_log(name, offset, max_bytes)
        text = "2025-10-09 08:53:50 | spec: epochs 1, max_steps -1; 10 steps, 10 per epoch\n"[offset : offset + max_bytes]
        return LogChunk(text, offset, offset + len(text), False)


def test_progress_takes_the_rate_of_the_recent_steps():
    # ten fast steps (1 s each), then five slow ones (10 s each): the ETA follows the slow rate
    stamps = [float(s) for s in range(1, 11)] + [10.0 + 10 * k for k in range(1, 6)]
    points = [MetricPoint("loss", 1.0, step, timestamp=t) for step, t in enumerate(stamps, start=1)]
    progress = job_progress(points, "x | spec: ...; 20 steps, 20 per epoch\n", now=stamps[-1])
    assert (progress.step, progress.total, progress.eta_s) == (15, 20, 50.0)
    assert progress.text() == "step 15/20 · ETA 50s"
    # no total in the log: the step alone, no ETA; no step yet: nothing
    assert job_progress(points, "", now=0).text() == "step 15"
    assert job_progress([], "; 20 steps, 20 per epoch", now=0) is None


async def test_jobs_list_shows_progress_and_tells_jobs_of_one_model_apart_at_80_columns(tmp_path):
    backend = TwoJobsBackend(tmp_path / "fixed")
    async with running(backend, (80, 24), "4") as (app, pilot):
        table = app.query_one("#job-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await wait_for(pilot, lambda: "ETA" in screen_text(app))
        text = screen_text(app)
        # the running job: step 6 of 10 at 10 s a step, its last step just now: 40 s left
        assert "step 6/10 · ETA 40s" in text
        assert "tiny-chat ef01" in text and "tiny-chat abcd" in text


async def test_log_keys_wrap_and_sideways_scroll_fit_the_footer_at_80_columns(fixed_backend):
    async with running(fixed_backend, (80, 24), "4") as (app, pilot):
        await wait_for(pilot, lambda: app.query_one("#job-table", DataTable).row_count == 1)
        await pilot.press("l")
        await wait_for(pilot, lambda: "Wrap" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert all(key in footer for key in ("←→ Scroll", "w Wrap", "/ Search", "f Filter", "? Help", "q Quit"))
        assert "x Cancel" not in footer  # the selected job has ended: only what applies to it is offered
        await pilot.press("w")
        await wait_for(pilot, lambda: "Scroll" not in screen_text(app).splitlines()[-1])
        assert "wrap" in screen_text(app)  # the status line says so


async def test_data_pane_opens_a_typed_path_with_completion_lists_folders_and_rescans(fixed_backend, tmp_path):
    import os

    from textual.widgets import Input, OptionList
    from tui_fixtures import chat_rows, write_jsonl

    elsewhere = tmp_path / "elsewhere"
    write_jsonl(elsewhere / "sub" / "more.jsonl", chat_rows(7))
    os.mkfifo(elsewhere / "pipe.jsonl")
    async with running(fixed_backend, (80, 24), "3") as (app, pilot):
        pane = app.pane("data")
        await wait_for(pilot, lambda: pane.path is not None and pane.path.name == "train.jsonl")
        box = app.query_one("#data-path", Input)
        await pilot.press("o", *f"{tmp_path}/elsew")
        assert app.focused is box
        await wait_for(pilot, lambda: box._suggestion == f"{tmp_path}/elsewhere/")
        await pilot.press("right", "enter")  # → takes the completion; Enter lists the folder
        await wait_for(pilot, lambda: pane.folder == elsewhere)
        options = app.query_one("#data-files", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == ["▴ ..", "▸ sub/"]  # a folder is listed; the FIFO is not a dataset
        await pilot.press("enter")  # into sub/: the first entry past ".." is highlighted
        await wait_for(pilot, lambda: pane.folder == elsewhere / "sub")
        await pilot.press("enter")  # open more.jsonl
        await wait_for(pilot, lambda: "more.jsonl: 7 rows" in screen_text(app))
        # a FIFO typed in full is refused in one line, and nothing else changes
        await pilot.press("o", *f"{elsewhere}/pipe.jsonl", "enter")
        await wait_for(pilot, lambda: "is a named pipe (FIFO), not a regular file" in text_of(app, "#rows-status"))
        assert pane.path == elsewhere / "sub" / "more.jsonl"
        # R rescans: a file written meanwhile is listed
        write_jsonl(elsewhere / "sub" / "new.jsonl", chat_rows(3))
        await pilot.press("escape", "R")
        await wait_for(pilot, lambda: pane.files == [elsewhere / "sub" / "more.jsonl", elsewhere / "sub" / "new.jsonl"])


def test_dataset_paths_are_checked_regular_and_capped(tmp_path):
    import pytest

    from finetui.core.data.browse import complete_path, open_target
    from finetui.core.errors import InvalidInput
    from finetui.core.files import check_regular_file

    big = tmp_path / "big.jsonl"
    big.write_bytes(b"{}\n" * 1000)
    with pytest.raises(InvalidInput, match=r"^dataset .*big.jsonl: 2.9 KiB is over the 1.0 KiB limit$"):
        check_regular_file(big, "dataset", max_bytes=1024)
    with pytest.raises(InvalidInput, match="file not found"):
        open_target(str(tmp_path / "nosuch.jsonl"))
    assert open_target(str(big)) == big.resolve()
    assert open_target(str(tmp_path)).files == ((tmp_path / "big.jsonl", 3000),)
    assert complete_path(f"{tmp_path}/bi") == f"{tmp_path}/big.jsonl"
    assert complete_path(f"{tmp_path}/zz") is None


class EmptyBackend(FixedBackend):
    """A workspace with nothing in it yet: no models, no compute targets (an Azure workspace), no data."""

    def __init__(self, root):
        super().__init__(root)
        (self.paths.data / "train.jsonl").unlink()

    def list_models(self, query=None):
        return []

    def list_compute(self):
        return []

    def list_jobs(self):
        return []


async def test_empty_panes_say_what_to_do_next(tmp_path):
    async with running(EmptyBackend(tmp_path / "fixed"), (120, 36)) as (app, pilot):
        await wait_for(pilot, lambda: "finetui model add PATH" in text_of(app, "#model-details"))
        assert "finetui demo" in text_of(app, "#model-details")
        await pilot.press("slash", *"zz")
        await wait_for(pilot, lambda: "no models match 'zz': Esc clears the filter" in text_of(app, "#model-details"))
        await pilot.press("escape", "2")
        await wait_for(pilot, lambda: "compute-create NAME" in text_of(app, "#fit-report"))
        await pilot.press("3")
        await wait_for(pilot, lambda: "finetui data fetch" in text_of(app, "#rows-status"))
        assert "o to open a path" in text_of(app, "#rows-status")
        assert "no .jsonl files here" in screen_text(app)
        await pilot.press("4")
        await wait_for(pilot, lambda: "no jobs yet: n opens the launch form" in screen_text(app))


async def test_compute_without_a_model_says_where_to_pick_one(tmp_path):
    backend = EmptyBackend(tmp_path / "fixed")
    backend.list_compute = FixedBackend.list_compute.__get__(backend)  # this machine is a target
    async with running(backend, (120, 36), "2") as (app, pilot):
        await wait_for(pilot, lambda: "no model to check: pick one in pane 1" in text_of(app, "#fit-report"))


async def test_data_pane_picks_a_tokenizer_for_token_lengths(local_ws, tmp_path):
    from chatml_model import build_chatml_llama

    local_ws.catalog.add_path(build_chatml_llama(tmp_path / "chatml", hidden=16), "chatml")
    async with running(local_ws, (120, 36), "3") as (app, pilot):
        pane = app.pane("data")
        await wait_for(pilot, lambda: pane.path is not None)
        await wait_for(pilot, lambda: "no tokenizer · t picks one" in text_of(app, "#validation"), timeout=60)
        assert "no token statistics" in text_of(app, "#validation")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen.is_modal)
        options = app.screen.query_one("#pick-list")
        refs = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "chatml:1" in refs and refs[-1] == "-"
        options.highlighted = refs.index("chatml:1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "tokens counted with chatml:1's tokenizer" in text_of(app, "#validation"), timeout=120)
        report = text_of(app, "#validation")
        assert "tokens per row: min" in report and "max_seq_length 1024" in report
        assert app.query_one("#data-tabs").active == "validation-tab"
