"""Money in the app: the status bar's spend meter and what the endpoints left running cost when quitting."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from finetui.core.units import duration

if TYPE_CHECKING:
    from finetui.core.backend import Backend
    from finetui.core.estimate import JobCost
    from finetui.core.models import Endpoint
    from finetui.core.prices import PriceTable

METER_EVERY_S = 30.0  # Azure lists endpoints over HTTP: twice a minute is plenty for a running total


class MeterUpdated(Message):
    """The status bar's spend meter: ``text`` is empty when nothing bills."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def price_table(workspace: str | Path | None) -> PriceTable:
    """The workspace's prices (blocking: reads files; call it off the UI thread)."""
    from finetui.core.errors import FinetuiError
    from finetui.core.prices import load_prices

    try:
        return load_prices(Path(workspace) if workspace else None)
    except FinetuiError:  # a broken prices.json must not break the app: the shipped table still holds
        return load_prices(None)


def meter_text(endpoints: list[Endpoint], now: float, workspace: str | Path | None) -> str:
    """``2 endpoints billing: 7.35 USD/h, 14.70 USD so far``; empty when none costs anything per hour."""
    from finetui.core.meter import meter, money

    table = price_table(workspace)
    meters = [m for m in (meter(e, table, now) for e in endpoints) if m.billing and m.per_hour]
    if not meters:
        return ""
    spent = sum(m.spent or 0.0 for m in meters)
    n = len(meters)
    return (
        f"{n} endpoint{'s' if n > 1 else ''} billing: {money(sum(m.per_hour for m in meters), table.currency)}/h, "
        f"{money(spent, table.currency)} so far"
    )


def quit_question(up: list[Endpoint], now: float, workspace: str | Path | None) -> str:
    """The endpoints that keep running (and billing) after the app quits, with uptime, price per hour and spend."""
    from finetui.core.meter import meter, money

    table = price_table(workspace)
    meters = [meter(e, table, now) for e in up]
    width = max(len(e.name) for e in up)
    lines = [
        f"  {e.name:<{width}}  up {duration(now - (e.started_at or e.created_at or now))}  "
        f"{money(m.per_hour, m.currency)}/h  {money(m.spent, m.currency)} so far"
        for e, m in zip(up, meters)
    ]
    known = [m.per_hour for m in meters if m.per_hour is not None]
    total = f"Together they cost {money(sum(known), table.currency)} per hour"
    total += " (and more: some prices are unknown)." if len(known) < len(meters) else "."
    return (
        "These endpoints keep running after you quit (delete them in pane 5, or `finetui down`):\n"
        + "\n".join(lines)
        + f"\n{total}\n\nQuit anyway?"
    )


def launch_cost(backend: Backend, workspace: str | Path | None, request: dict[str, Any], changes: dict[str, Any]) -> JobCost:
    """The launch form's JobCost (blocking): the target the job would run on, as `compute check --train` finds it."""
    from finetui.core.estimate import job_cost

    resolved = backend.resolve_spec(request["model"], changes or None, "launch form")
    extra = {"component_inputs": dict(resolved.passthrough)} if backend.name == "azure" else {}
    report = backend.check_compute(request["model"], resolved.spec, request.get("compute"), **extra)
    return job_cost(
        backend,
        backend.name,
        price_table(workspace),
        report.target,
        request.get("train_file"),
        float(resolved.spec.num_train_epochs),
        "train file",
        parameters=report.estimate.parameters,
    )
