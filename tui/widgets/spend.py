"""Money in the app: what the endpoints left running cost, for the quit dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..format import duration


def quit_question(up: list[Any], now: float, workspace: str | Path | None) -> str:
    """The endpoints that keep running (and billing) after the app quits, with uptime, price per hour and spend."""
    from finetui.core.errors import FinetuiError
    from finetui.core.meter import meter, money
    from finetui.core.prices import load_prices

    try:
        table = load_prices(Path(workspace) if workspace else None)
    except FinetuiError:  # a broken prices.json must not keep anyone from quitting
        table = load_prices(None)
    meters = [meter(e, table, now) for e in up]
    width = max(len(e.name) for e in up)
    lines = [f"  {e.name:<{width}}  up {duration(now - (e.started_at or e.created_at or now))}  "
             f"{money(m.per_hour, m.currency)}/h  {money(m.spent, m.currency)} so far" for e, m in zip(up, meters)]
    known = [m.per_hour for m in meters if m.per_hour is not None]
    total = f"Together they cost {money(sum(known), table.currency)} per hour"
    total += " (and more: some prices are unknown)." if len(known) < len(meters) else "."
    return ("These endpoints keep running after you quit (delete them in pane 5, or `finetui down`):\n"
            + "\n".join(lines) + f"\n{total}\n\nQuit anyway?")
