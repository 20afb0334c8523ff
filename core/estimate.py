"""What a fine-tuning job will cost: price per hour x (tokens x epochs / throughput), with its uncertainty.

The price comes from the price table (core/prices.py). The throughput is
measured on this machine for the local backend (the median tokens/s of this
workspace's finished jobs) and, for Azure, a planning figure per SKU from the
shipped table; each comes with the uncertainty it deserves, and the cost is
shown as a range. The token count of a data file is estimated from its size
(about 4 bytes of JSONL per token, which the range covers too).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import Any

from .models import ComputeTarget
from .prices import Price, PriceTable

BYTES_PER_TOKEN = 4.0
TOKEN_COUNT_UNCERTAINTY = 0.25
MEASURED_UNCERTAINTY = 0.2


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float
    uncertainty: float  # relative: 0.5 means the truth may be half or one and a half times this
    source: str


@dataclass(frozen=True)
class JobEstimate:
    tokens: int
    epochs: float
    throughput: Throughput
    hours: float
    price: Price | None
    cost: float | None
    cost_low: float | None
    cost_high: float | None
    uncertainty: float


def sku_of(backend: str, target: ComputeTarget) -> str:
    return target.vm_size if backend == "azure" and target.vm_size else target.kind


def price_of(table: PriceTable, backend: str, target: ComputeTarget) -> Price | None:
    return table.get(backend, sku_of(backend, target))


def tokens_in_file(path: str | os.PathLike[str]) -> int:
    from .files import check_regular_file

    return int(check_regular_file(path, "--train").stat().st_size / BYTES_PER_TOKEN)


def measured_throughput(backend: Any, limit: int = 10) -> Throughput | None:
    """The median of the last tokens/s of this workspace's last ``limit`` finished jobs."""
    rates = []
    for job in [j for j in backend.list_jobs() if j.status.value == "Completed"][:limit]:
        points = [p.value for p in backend.job_metrics(job.name) if p.name == "tokens_per_second" and p.value > 0]
        if points:
            rates.append(points[-1])
    if not rates:
        return None
    return Throughput(statistics.median(rates), MEASURED_UNCERTAINTY,
                      f"measured here: median of {len(rates)} finished job(s)")


def documented_throughput(table: PriceTable, sku: str) -> Throughput | None:
    figures = table.throughput.get("azure", {})
    key = next((k for k in figures if k.lower() == sku.lower()), None)
    if key is None:
        return None
    return Throughput(float(figures[key]), float(table.throughput.get("uncertainty", 0.5)),
                      "planning figure per SKU (not measured here)")


def estimate_job(tokens: int, epochs: float, throughput: Throughput, price: Price | None, nodes: int = 1) -> JobEstimate:
    hours = tokens * epochs / (throughput.tokens_per_s * max(nodes, 1)) / 3600
    u = throughput.uncertainty + TOKEN_COUNT_UNCERTAINTY
    if price is None:
        return JobEstimate(tokens, epochs, throughput, hours, None, None, None, None, u)
    cost = hours * price.per_hour * max(nodes, 1)
    return JobEstimate(tokens, epochs, throughput, hours, price, cost, cost * max(1 - u, 0), cost * (1 + u), u)
