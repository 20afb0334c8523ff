"""The app's panes over the Azure backend, on the real SDK against the fake service."""

from __future__ import annotations

import os
import time

from textual.widgets import DataTable, Static, TabbedContent

from finetui.tui.app import FinetuiApp


async def _wait(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def _text(app, selector: str) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(app.query_one(selector, Static).content)
    return console.export_text()


async def test_panes_show_the_azure_workspace(backend, fake):
    app = FinetuiApp(lambda: backend, poll_interval=None, clock=lambda: 1_760_000_100.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.mounted)
        models = app.query_one("#model-table", DataTable)
        await _wait(pilot, lambda: models.row_count >= 1)
        assert app.selected_model and app.selected_model.startswith("Phi-3-mini-4k-instruct")
        await _wait(pilot, lambda: "Model defaults" in _text(app, "#model-details"))
        assert "finetune_compute_allow_list" in _text(app, "#model-details")

        await pilot.press("2")
        assert app.query_one("#panes", TabbedContent).active == "compute"
        computes = app.query_one("#compute-table", DataTable)
        await _wait(pilot, lambda: computes.row_count >= 1)
        await pilot.press("r")
        await _wait(pilot, lambda: "NC24ads" in _text(app, "#fit-report").replace("nc24ads", "NC24ads") or "gpu-a100" in _text(app, "#fit-report"))

        print("FIT", _text(app, "#fit-report"))
        await pilot.press("4")
        await pilot.press("5")
        assert app.query_one("#panes", TabbedContent).active == "endpoints"
        await _wait(pilot, lambda: app.query_one("#endpoint-table", DataTable).row_count >= 0)
