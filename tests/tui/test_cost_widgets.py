"""The app's trust-and-cost views: the command log overlay (@) and the quit dialog with what endpoints cost.

Snapshots over fixed records and a fixed clock; update them only after looking
at the diff (`pytest tests/tui/test_cost_widgets.py --snapshot-update`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from tui_fixtures import T0, wait_for
from textual.pilot import Pilot
from textual.widgets import DataTable

from finetui.core.models import EndpointState
from finetui.core.prices import shipped
from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.command_log import CommandLogScreen

NOW = T0 + 2 * 3600 + 10  # the app's clock: the endpoint has been up 2 h


@pytest.fixture
def logged_backend(fixed_backend, tmp_path, utc, monkeypatch):
    """The fixed backend over a workspace whose command log holds three fixed actions."""
    monkeypatch.chdir(tmp_path)  # a relative root: the status bar shows it, and a snapshot must not hold tmp paths
    root = Path("cost-ws")
    root.mkdir()
    ws = "/workspace/demo"
    rows = [
        {
            "time": T0,
            "backend": "local",
            "action": "job list",
            "outcome": "ok",
            "exit_code": 0,
            "finetui": f"finetui --workspace {ws} job list --json",
            "source": "cli",
        },
        {
            "time": T0 + 60,
            "backend": "azure",
            "action": "endpoint delete",
            "outcome": "ok",
            "exit_code": 0,
            "finetui": f"finetui --workspace {ws} --backend azure --subscription sub --resource-group rg "
            "--workspace-name ws endpoint delete ep1 --yes",
            "az": ["az ml online-endpoint delete --name ep1 --yes --resource-group rg --workspace-name ws --subscription sub"],
            "sdk": ["ml_client.online_endpoints.begin_delete(name='ep1').result()"],
            "source": "app",
        },
        {
            "time": T0 + 120,
            "backend": "local",
            "action": "endpoint show",
            "outcome": "failed",
            "exit_code": 1,
            "error": "no endpoint named 'nosuch'",
            "finetui": f"finetui --workspace {ws} endpoint show nosuch",
            "source": "cli",
        },
    ]
    (root / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fixed_backend.paths = SimpleNamespace(root=root, data=fixed_backend.paths.data)
    return fixed_backend


def _app(backend) -> FinetuiApp:
    return FinetuiApp(lambda: backend, poll_interval=None, clock=lambda: NOW)


@asynccontextmanager
async def _shown(backend, size: tuple[int, int], run_before: Callable[[Pilot], Awaitable[None]]):
    """The app as its snapshot sees it (same size, same run_before), for a Pilot test to look closer at."""
    app = _app(backend)
    async with app.run_test(size=size) as pilot:
        await run_before(pilot)
        yield app, pilot


async def _ready(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.mounted and app.backend is not None and app.selected_model is not None)


async def _open_log(pilot) -> None:
    app = pilot.app
    await _ready(pilot)
    await pilot.press("at")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandLogScreen) and app.screen.entries)
    await pilot.pause(0.1)


async def test_command_log_overlay_newest_first_and_copies(logged_backend):
    async with _shown(logged_backend, (120, 40), _open_log) as (app, pilot):
        screen = app.screen
        table = screen.query_one("#log-table", DataTable)
        assert [table.get_row_at(i)[3] for i in range(table.row_count)] == ["endpoint show", "endpoint delete", "job list"]
        await pilot.press("enter")
        assert app.clipboard == "finetui --workspace /workspace/demo endpoint show nosuch"
        await pilot.press("down", "a")
        assert app.clipboard.startswith("az ml online-endpoint delete --name ep1 --yes")
        await pilot.press("escape")
        assert not isinstance(app.screen, CommandLogScreen)


def test_command_log_snapshot(snap_compare, logged_backend):
    assert snap_compare(_app(logged_backend), terminal_size=(120, 40), run_before=_open_log)


@pytest.fixture
def billing_backend(fixed_backend, utc):
    """The fixed backend with its endpoint on Azure, on an A100: a price the quit dialog can show."""
    fixed_backend.endpoint = replace(
        fixed_backend.endpoint, backend="azure", instance_type="Standard_NC24ads_A100_v4", started_at=None, created_at=T0 + 10
    )
    fixed_backend.endpoints = [fixed_backend.endpoint]  # list_endpoints() lists these, not .endpoint
    return fixed_backend


async def _billing(pilot) -> None:
    await wait_for(pilot, lambda: "billing" in str(pilot.app.query_one("#status").content))


async def _quit(pilot) -> None:
    app = pilot.app
    await _ready(pilot)
    await wait_for(pilot, lambda: app.pane("endpoints").endpoints)
    await _billing(pilot)  # the meter, behind the dialog
    await pilot.press("q")
    await wait_for(pilot, lambda: bool(app.screen.query("#confirm-question")))
    await pilot.pause(0.1)


async def test_quit_dialog_says_what_the_endpoints_cost(billing_backend):
    from test_app_panes import plain

    per_hour = shipped()["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    async with _shown(billing_backend, (100, 30), _quit) as (app, pilot):
        question = plain(app.screen.query_one("#confirm-question").content)
        assert f"tiny-chat-ep  up 2h00m  {per_hour:.2f} USD/h  {per_hour * 2:.2f} USD so far" in question
        assert f"Together they cost {per_hour:.2f} USD per hour." in question
        await pilot.press("n")


def test_quit_dialog_snapshot(snap_compare, billing_backend):
    assert snap_compare(_app(billing_backend), terminal_size=(100, 30), run_before=_quit)


async def _endpoint_shown(pilot) -> None:
    await _ready(pilot)
    await pilot.press("5")
    await wait_for(pilot, lambda: pilot.app.pane("endpoints").endpoint is not None)


async def _endpoints_with_meter(pilot) -> None:
    await _endpoint_shown(pilot)
    await _billing(pilot)
    await pilot.pause(0.1)


async def test_status_bar_meter_shows_what_bills(billing_backend):
    per_hour = shipped()["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    async with _shown(billing_backend, (120, 40), _endpoints_with_meter) as (app, pilot):
        status = str(app.query_one("#status").content)
        assert status.endswith(f"1 endpoint billing: {per_hour:.2f} USD/h, {per_hour * 2:.2f} USD so far")
        app.set_status("demo workspace ready")  # other news keeps the meter beside it
        assert str(app.query_one("#status").content).startswith("demo workspace ready  ·  1 endpoint billing")


def test_status_bar_meter_snapshot(snap_compare, billing_backend):
    assert snap_compare(_app(billing_backend), terminal_size=(120, 40), run_before=_endpoints_with_meter)


async def test_endpoints_pane_meter_in_list_and_details(billing_backend):
    """Each row and the details give uptime, spend so far and price per hour, from core/meter.py's figures."""
    from test_app_panes import plain

    per_hour = shipped()["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    spend = f"{per_hour * 2:.2f} USD · {per_hour:.2f} USD/h"
    async with _shown(billing_backend, (120, 36), _endpoints_pane) as (app, pilot):
        table = app.query_one("#endpoint-table", DataTable)
        assert plain(table.get_row_at(0)[0]).splitlines() == ["tiny-chat-ep", "  succeeded · up 2h00m", f"  {spend}"]
        details = plain(app.query_one("#endpoint-details").content)
        assert "Uptime       2h00m" in details
        assert f"Spend        {spend}\nBilled as    Standard_NC24ads_A100_v4" in details
        # stopped: it no longer bills, and the list says so in place
        billing_backend.endpoints[0] = replace(billing_backend.endpoint, state=EndpointState.FAILED)
        app.pane("endpoints").reload()
        await wait_for(pilot, lambda: "not billing" in plain(table.get_row_at(0)[0]))
        assert table.cursor_row == 0


async def _endpoints_pane(pilot) -> None:
    await _endpoint_shown(pilot)
    await pilot.pause(0.1)


@pytest.mark.parametrize("color", ["color", "no_color"])
@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_endpoints_pane_meter_snapshot(snap_compare, billing_backend, monkeypatch, size, color):
    if color == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(_app(billing_backend), terminal_size=size, run_before=_endpoints_pane)
