"""The launch form shows the target's price per hour and the job's estimated cost, as `compute check --train` does."""

from __future__ import annotations

import json

from test_app_panes import app_for, plain
from textual.widgets import Input
from tui_fixtures import wait_for

from finetui.core.prices import shipped
from finetui.tui.widgets.spec_form import SpecForm

JOB = "tiny-chat-20250101-000000-abcd"  # the fixture's finished job


def _cost(app) -> list[str]:
    return plain(app.query_one("#launch-cost").content).rstrip("\n").splitlines()


async def _launch_form(pilot, train: str | None = None) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.mounted and app.selected_model == "tiny-chat:1")
    await pilot.press("t")
    jobs = app.pane("jobs")
    await wait_for(pilot, lambda: bool(app.query_one(SpecForm).overrides))
    await wait_for(pilot, lambda: (jobs.cost_for or {}).get("train_file") is not None, timeout=30)


async def test_launch_form_shows_price_and_estimate_and_follows_the_epochs(local_ws):
    # a finished job that trained at 500 tokens/s: the local throughput measured here
    metrics = local_ws.paths.job_dir(JOB) / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + json.dumps({"name": "tokens_per_second", "value": 500.0, "step": 40}) + "\n")
    train = local_ws.paths.data / "train.jsonl"
    tokens = train.stat().st_size // 4
    app = app_for(local_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await _launch_form(pilot)
        jobs = app.pane("jobs")
        assert jobs.cost_for["train_file"] == str(train)
        epochs = int(app.query_one("#spec-num_train_epochs", Input).value)
        price, estimate = _cost(app)
        assert price.startswith("price: 0.000 USD/h per node (cpu; ")
        assert estimate.startswith(
            f"estimate: about {tokens:,} tokens x {epochs} epochs at 500 tokens/s (measured here: median of 1 finished job(s)) = "
        )
        assert estimate.endswith(", 0.00 USD (between 0.00 and 0.00: +-45%)")

        app.query_one("#spec-num_train_epochs", Input).value = str(epochs * 2)
        await wait_for(pilot, lambda: f"x {epochs * 2} epochs" in _cost(app)[-1], timeout=30)

        app.query_one("#req-train_file", Input).value = "/nonexistent/train.jsonl"
        await wait_for(pilot, lambda: jobs.cost_for["train_file"] == "/nonexistent/train.jsonl", timeout=30)
        [line] = _cost(app)
        assert line == "cost: not available: train file /nonexistent/train.jsonl: file not found"


async def test_launch_form_says_why_there_is_no_estimate_yet(local_ws):
    """Without a measured throughput the form says so, in the CLI's words."""
    app = app_for(local_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await _launch_form(pilot)
        assert _cost(app)[-1] == "estimate: no throughput measured here yet: run one job, then estimates use its tokens/s"
    assert shipped()["prices"]["local"]["cpu"] == 0
