"""Uptime and spend so far of an endpoint, and what stopping endpoints saves per hour.

A local server costs nothing per hour here (this machine is already paid
for); an Azure endpoint bills its deployment's instance type per hour from
creation until deletion (managed online endpoints cannot scale to zero). A
price that is not in the table is unknown, never guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .models import Endpoint, EndpointState
from .prices import PriceTable

LOCAL_SKU = "cpu"
_BILLING = (EndpointState.SUCCEEDED, EndpointState.CREATING, EndpointState.UPDATING, EndpointState.UNHEALTHY)


@dataclass(frozen=True)
class Meter:
    uptime_s: float | None
    per_hour: float | None  # None: unknown price
    spent: float | None
    currency: str
    billing: bool  # still running up cost


def endpoint_sku(ep: Endpoint) -> tuple[str, str | None]:
    return ("local", LOCAL_SKU) if ep.backend == "local" else (ep.backend, ep.instance_type)


def meter(ep: Endpoint, table: PriceTable, now: float | None = None) -> Meter:
    now = time.time() if now is None else now
    billing = (
        ep.state in _BILLING
        if ep.backend != "local"
        else ep.state in (EndpointState.SUCCEEDED, EndpointState.CREATING, EndpointState.UPDATING)
    )
    since = ep.started_at if ep.backend == "local" else (ep.created_at or ep.started_at)
    uptime = max(now - since, 0.0) if since and billing else None
    price = table.get(*endpoint_sku(ep))
    per_hour = price.per_hour if price else None
    spent = per_hour * uptime / 3600 if per_hour is not None and uptime is not None else None
    return Meter(uptime, per_hour, spent, table.currency, billing)


def money(value: float | None, currency: str) -> str:
    return "?" if value is None else f"{value:.2f} {currency}"
