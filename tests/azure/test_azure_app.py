"""The app's panes over the Azure backend, on the real SDK against the fake service."""

from __future__ import annotations

import contextlib
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
        await _wait(
            pilot,
            lambda: (
                "NC24ads" in _text(app, "#fit-report").replace("nc24ads", "NC24ads") or "gpu-a100" in _text(app, "#fit-report")
            ),
        )

        print("FIT", _text(app, "#fit-report"))
        await pilot.press("4")
        await pilot.press("5")
        assert app.query_one("#panes", TabbedContent).active == "endpoints"
        await _wait(pilot, lambda: app.query_one("#endpoint-table", DataTable).row_count >= 0)


async def test_compute_pane_shows_the_gpu_line(backend, fake):
    fake.add_compute("v100", "Standard_NC6s_v3")
    app = FinetuiApp(lambda: backend, poll_interval=None, clock=lambda: 1_760_000_100.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.mounted and app.selected_model is not None)
        await pilot.press("2")
        computes = app.query_one("#compute-table", DataTable)
        await _wait(pilot, lambda: computes.row_count >= 2)
        computes.move_cursor(row=[computes.get_row_at(i)[0] for i in range(computes.row_count)].index("v100"))
        await pilot.press("enter")
        await _wait(pilot, lambda: "on v100" in _text(app, "#fit-report"))
        text = _text(app, "#fit-report")
        assert "FITS" in text and "1 GPU per node: V100, 16.0 GiB each; trains in fp16" in text


async def test_endpoint_create_asks_the_instance_type_and_shows_the_allow_list(backend, fake):
    from textual.widgets import Input, OptionList

    fake.add_workspace_model("phi3-ft", "1", {"finetui.base_model": "Phi-3-mini-4k-instruct:7"})
    app = FinetuiApp(lambda: backend, poll_interval=None, clock=lambda: 1_760_000_100.0)
    seen: list[str] = []
    app.notify = lambda message, **kw: seen.append(str(message))  # what the user is told, in order
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.mounted)
        await pilot.press("5")

        async def answer(value: str | None = None) -> None:
            await _wait(pilot, lambda: bool(app.screen.query("#prompt-input")))
            if value is not None:
                app.screen.query_one("#prompt-input", Input).value = value
            await pilot.press("enter")

        async def pick(ref: str) -> None:
            """The model, from the list of registered versions (the workspace's base models are not served here)."""
            await _wait(pilot, lambda: bool(app.screen.query("#pick-list")))
            options = app.screen.query_one("#pick-list", OptionList)
            options.highlighted = options.get_option_index(ref)
            await pilot.press("enter")

        await pilot.press("c")
        await pick("phi3-ft:1")  # the model
        await answer("ep-bad")  # the endpoint's name
        title = str(app.screen.query_one("#prompt-title", Static).content)
        assert title.startswith("Instance type") and app.screen.query_one("#prompt-input", Input).value == "Standard_NC6s_v3"
        await answer("Standard_DS3_v2")
        await _wait(pilot, lambda: any("inference_compute_allow_list" in m for m in seen), timeout=60)
        error = next(m for m in seen if "inference_compute_allow_list" in m)
        assert "choose one of Standard_NC6s_v3, Standard_NC24ads_A100_v4" in error
        assert "ep-bad" not in fake.endpoints

        await pilot.press("c")
        await pick("phi3-ft:1")
        await answer("ep-good")
        await answer()  # the tutorial's Standard_NC6s_v3
        await _wait(pilot, lambda: any(m.startswith("endpoint ep-good:") for m in seen), timeout=120)
        assert fake.deployments[("ep-good", "demo")]["properties"]["instanceType"] == "Standard_NC6s_v3"


@contextlib.asynccontextmanager
async def create_form(backend, fake, local):
    """The app on the fake with its endpoint create form open for phi3-ft:1; yields (pilot, notifications)."""
    fake.add_workspace_model("phi3-ft", "1", {"finetui.base_model": "Phi-3-mini-4k-instruct:7"})
    app = FinetuiApp(lambda: backend, poll_interval=None, workspace=str(local), clock=lambda: 1_760_000_100.0)
    seen: list[str] = []
    app.notify = lambda message, **kw: seen.append(str(message))
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.mounted)
        await pilot.press("5", "c")
        await _wait(pilot, lambda: bool(app.screen.query("#pick-list")))
        await pilot.press("enter")  # phi3-ft:1
        await _wait(pilot, lambda: bool(app.screen.query("#prompt-ttl")))
        yield pilot, seen


async def submit_create_form(pilot, seen: list[str], name: str) -> None:
    """Enter on the form, then on the instance type prompt (the tutorial's Standard_NC6s_v3); wait for the endpoint."""
    await pilot.press("enter")
    await _wait(pilot, lambda: str(pilot.app.screen.query_one("#prompt-title", Static).content).startswith("Instance"))
    await pilot.press("enter")
    await _wait(pilot, lambda: any(m.startswith(f"endpoint {name}:") for m in seen), timeout=120)


async def test_endpoint_create_with_a_ttl_starts_the_watcher_as_the_cli_does(backend, fake, tmp_path):
    """The create form's time to live goes through the CLI's own path (core.ttl.create_endpoint): a detached watcher."""
    from azure_fake import RG, SUB, WS
    from textual.widgets import Input

    from finetui.core.azure.ttl_watch import read_status
    from finetui.core import procs

    local = (tmp_path / "local-ws").resolve()
    try:
        async with create_form(backend, fake, local) as (pilot, seen):
            pilot.app.screen.query_one("#prompt-input", Input).value = "ep-ttl"
            pilot.app.screen.query_one("#prompt-ttl", Input).value = "2h"
            await submit_create_form(pilot, seen, "ep-ttl")
        status = read_status(local, "ep-ttl")
        assert status is not None and (status["state"], status["alive"], status["ttl_s"]) == ("watching", True, 7200.0)
        assert status["expires_at"] == status["created_at"] + 7200
        assert (status["subscription_id"], status["resource_group"], status["workspace_name"]) == (SUB, RG, WS)
        assert "ep-ttl" in fake.endpoints
        message = next(m for m in seen if m.startswith("endpoint ep-ttl:"))
        assert f"time to live 2h00m (ttl watcher: process {status['pid']})" in message
    finally:
        status = read_status(local, "ep-ttl")
        if status and status.get("pid"):
            procs.terminate(status["pid"], status.get("pid_start_time"), grace=5.0)


async def test_launch_form_shows_the_cluster_price_and_the_job_cost_range(backend, fake, tmp_path):
    """The same JobCost as `compute check --train`: the A100 cluster's price, a planning throughput, +-75%."""
    import json

    from textual.widgets import Input

    from finetui.core.prices import shipped
    from finetui.tui.widgets.spec_form import SpecForm

    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "hi " * 2000}]}) + "\n")
    app = FinetuiApp(lambda: backend, poll_interval=None, workspace=str(tmp_path / "local-ws"), clock=lambda: 1_760_000_100.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.mounted and app.selected_model is not None)
        await pilot.press("t")
        form = app.query_one(SpecForm)
        await _wait(pilot, lambda: bool(form.overrides), timeout=60)
        form.query_one("#req-train_file", Input).value = str(train)
        jobs = app.pane("jobs")
        await _wait(pilot, lambda: (jobs.cost_for or {}).get("train_file") == str(train), timeout=60)
        epochs = float(form.query_one("#spec-num_train_epochs", Input).value)
        price, estimate = _text(app, "#launch-cost").rstrip("\n").splitlines()
    table = shipped()
    per_hour = table["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    from finetui.core.azure.compute import KNOWN_DIMS
    from finetui.core.model_dims import normalize_dims, params_from_dims

    # the SKU's figure is for a 3.8B model; it is scaled to Phi-3-mini's own count from its dimensions
    params = params_from_dims(normalize_dims(KNOWN_DIMS["phi-3-mini-4k-instruct"]))
    rate = table["throughput_tokens_per_s"]["azure"]["Standard_NC24ads_A100_v4"] * 3.8e9 / params
    cost = train.stat().st_size // 4 * epochs / rate / 3600 * per_hour
    assert price.startswith(f"price: {per_hour:.3f} USD/h per node (Standard_NC24ads_A100_v4; ")
    assert estimate.endswith(f", {cost:.2f} USD (between {cost * 0.25:.2f} and {cost * 1.75:.2f}: +-75%)")
    assert f"at {rate:,.0f} tokens/s (planning figure per SKU for a 3.8B-parameter model (not measured here))" in estimate
