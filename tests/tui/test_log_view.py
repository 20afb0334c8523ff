"""LogView: tail first, whole index, follow a growing file, search and filter."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from finetui.tui.widgets.log_file import LogFile
from finetui.tui.widgets.log_panel import LogPanel
from finetui.tui.widgets.log_view import LogView


class LogApp(App):
    def __init__(self, path, follow=True):
        super().__init__()
        self.path, self.follow = path, follow

    def compose(self) -> ComposeResult:
        yield LogPanel()

    def on_mount(self) -> None:
        view = self.query_one(LogView)
        view.load(self.path, follow=self.follow)
        view.focus()


def _write(path, n, start=0, partial=""):
    with open(path, "a") as f:
        f.writelines(f"line {i} step={i % 7}\n" for i in range(start, start + n))
        f.write(partial)


async def _until(pilot, cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def test_log_file_index_matches_lines(tmp_path):
    path = tmp_path / "a.log"
    _write(path, 5000, partial="half a line")
    log = LogFile(path)
    log.open()
    pos = log.scan_pos
    while pos > 0:
        data, pos = log.scan_back(pos, chunk=1000)
        log.add_back(data, pos)
    assert log.complete and log.line_count == 5000
    assert [log.line(i) for i in (0, 1, 4999)] == ["line 0 step=0", "line 1 step=1", "line 4999 step=1"]
    # the partial line is indexed once it ends
    with open(path, "a") as f:
        f.write(" done\nnext\n")
    data, end = log.read_new(log.end)
    log.add_new(data, end)
    assert log.line(5000) == "half a line done" and log.line(5001) == "next"
    assert list(log.matching_lines("LINE 4999", log.start(0), log.end)) == [4999]
    assert list(log.matching_lines("step=3", log.start(0), log.end))[:3] == [3, 10, 17]
    assert list(log.matching_lines("next", log.start(5000), log.end, base=5000)) == [5001]


async def test_tail_shown_then_follow_growth(tmp_path):
    path = tmp_path / "job.log"
    _write(path, 20000)
    app = LogApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        await _until(pilot, lambda: view.log_file and view.log_file.complete)
        assert view.visible_lines()[-1] == "line 19999 step=0"
        await pilot.press("home")  # every log can be read from its start
        assert view.visible_lines()[0] == "line 0 step=0" and not view.follow
        await pilot.press("end")
        _write(path, 500, start=20000)
        await _until(pilot, lambda: view.visible_lines()[-1:] == ["line 20499 step=3"])
        assert view.line_count == 20500


async def test_search_and_filter(tmp_path):
    path = tmp_path / "job.log"
    _write(path, 3000)
    app = LogApp(path, follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        await _until(pilot, lambda: view.log_file and view.log_file.complete)
        await pilot.press("f")
        await pilot.press(*"step=3", "enter")
        await _until(pilot, lambda: view.matches is not None)
        assert view.line_count == len([i for i in range(3000) if i % 7 == 3])
        assert all(line.endswith("step=3") for line in view.visible_lines())
        await pilot.press("escape")
        assert view.line_count == 3000
        await pilot.press("slash", *"line 2500 ", "enter")
        await _until(pilot, lambda: view.current_match == 2500)
        assert "line 2500 step=1" in view.visible_lines()


async def test_filter_applies_as_you_type(fixed_backend):
    from test_app_panes import running
    from tui_fixtures import wait_for

    async with running(fixed_backend, (100, 30), "4") as (app, pilot):
        view = app.query_one(LogView)
        await wait_for(pilot, lambda: view.line_count == 200)
        await pilot.press("l", "f", *"step 12")  # no Enter
        await wait_for(pilot, lambda: view.filter_on and view.needle == "step 12" and view.line_count == 11)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not view.filter_on and view.line_count == 200)


async def test_long_lines_scroll_sideways_then_wrap_reading_only_the_lines_on_screen(tmp_path):
    from tui_fixtures import screen_text

    path = tmp_path / "long.log"
    _write(path, 5000)
    with open(path, "a") as f:
        f.writelines(f"L{i} " + "x" * 150 + f" END{i}\n" for i in range(3))
    app = LogApp(path)
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(LogView)
        await _until(pilot, lambda: view.log_file is not None and view.log_file.complete and view.line_count == 5003)
        await pilot.pause()
        assert "L2 xxx" in screen_text(app) and "END2" not in screen_text(app)  # cut at the edge
        for _ in range(8):  # right, a quarter of the width a press, to the end of the line
            await pilot.press("right")
        await _until(pilot, lambda: "END2" in screen_text(app))
        assert view.scroll_x > 0 and "L2 xxx" not in screen_text(app)
        await pilot.press("left")
        assert view.scroll_x > 0
        view._cache.clear()
        await pilot.press("w")
        await _until(pilot, lambda: "L2 xxx" in screen_text(app) and "END2" in screen_text(app))
        text = screen_text(app)
        assert view.scroll_x == 0 and "END0" in text and "END1" in text and "wrap" in text
        assert "line 4999 step=1" in text  # pinned to the end, wrapped lines and all
        assert len(view._cache) < 40  # only the lines on screen were read, not the file's 5,003
        await pilot.press("home")
        await _until(pilot, lambda: "line 0 step=0" in screen_text(app))
        await pilot.press("w")
        await _until(pilot, lambda: "wrap" not in screen_text(app))
