"""How an endpoint reads in the Endpoints pane: its row in the list (state, uptime, spend) and its details."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from finetui.core.units import duration

from ..format import mask

if TYPE_CHECKING:
    from finetui.core.meter import Meter
    from finetui.core.models import Endpoint, EndpointKeys


def spend_line(m: Meter) -> str:
    """What an endpoint has cost so far and costs per hour (core/meter.py's figures), for the list and the details."""
    from finetui.core.meter import money

    if not m.billing:
        return "not billing"
    if m.per_hour is None:
        return "price unknown (`finetui prices`)"
    return f"{money(m.spent, m.currency)} · {money(m.per_hour, m.currency)}/h"


def endpoint_row(e: Endpoint, m: Meter) -> Text:
    """An endpoint in the list: its name, its state and uptime, then its spend and price (fits 80 columns)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(e.name, style="bold")
    up = f" · up {duration(m.uptime_s)}" if m.uptime_s is not None else ""
    out.append(f"\n  {e.state.value.lower()}{up}\n  {spend_line(m)}")
    return out


def endpoint_details(e: Endpoint, m: Meter, now: float, keys: EndpointKeys | None = None, revealed: bool = False) -> Text:
    out = Text()
    idle = now - e.last_request_at if e.last_request_at else None
    rows = [
        ("Endpoint", e.name),
        ("State", e.state.value),
        ("Model", e.model),
        ("Uptime", duration(m.uptime_s)),
        ("Spend", spend_line(m)),
        *([("Billed as", e.instance_type)] if e.instance_type else []),
        ("Idle", duration(idle) if idle is not None else "no requests yet"),
        ("Idle timeout", duration(e.idle_timeout_s) if e.idle_timeout_s else "-"),
    ]
    if e.expires_at:
        left = e.expires_at - now
        rows.append(("Time to live", f"{duration(e.ttl_s)}, " + (f"ends in {duration(left)}" if left > 0 else "over")))
    rows += [("Scoring URI", e.scoring_uri or "-"), ("Auth", e.auth_mode)]
    if e.error:
        rows.append(("Error", e.error))
    for key, value in rows:
        out.append(f"{key:<13}", style="bold")
        out.append(f"{value}\n")
    out.append("\nKeys         ", style="bold")
    if keys is None:
        out.append("v loads and reveals them\n")
    elif revealed:
        out.append(f"primary   {keys.primary}\n             secondary {keys.secondary}\n")
    else:
        out.append(f"primary   {mask(keys.primary)}\n             secondary {mask(keys.secondary)}  (v reveals)\n")
    return out
