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

from .errors import FinetuiError
from .models import THROUGHPUT_METRIC, ComputeTarget
from .prices import Price, PriceTable
from .units import count

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


def tokens_in_file(path: str | os.PathLike[str], what: str = "--train") -> int:
    from .files import check_regular_file

    return int(check_regular_file(path, what).stat().st_size / BYTES_PER_TOKEN)


# Training a model costs about the same FLOPs per token per parameter whatever its size (LoRA with
# gradient checkpointing: forward, recomputed forward, backward through the frozen weights), so on one
# machine tokens/s goes as 1/parameters. A throughput measured or documented for one model size is
# scaled to the model at hand by that ratio; without a parameter count it is used as it is, and says so.
def parameters_of(backend: Any, ref: str | None) -> int | None:
    """The catalog's parameter count of model ``ref``; None where the catalog does not know it."""
    if not ref:
        return None
    try:
        count = backend.get_model(ref).parameter_count
    except FinetuiError:
        return None
    return int(count) if count and count > 0 else None


def measured_throughput(backend: Any, parameters: int | None = None, limit: int = 10) -> Throughput | None:
    """The median of the last tokens/s of this workspace's last ``limit`` finished jobs, each scaled from its
    model's size to ``parameters`` where both are known."""
    rates, scaled, sizes = [], 0, {}
    for job in [j for j in backend.list_jobs() if j.status.value == "Completed"][:limit]:
        points = [p.value for p in backend.job_metrics(job.name) if p.name == THROUGHPUT_METRIC and p.value > 0]
        if not points:
            continue
        if job.model not in sizes:
            sizes[job.model] = parameters_of(backend, job.model)
        rate, own = points[-1], sizes[job.model]
        if parameters and own and own != parameters:
            rate, scaled = rate * own / parameters, scaled + 1
        rates.append(rate)
    if not rates:
        return None
    source = f"measured here: median of {len(rates)} finished job(s)"
    if scaled:
        source += f", scaled to {count(parameters)} parameters"
    return Throughput(statistics.median(rates), MEASURED_UNCERTAINTY, source)


def documented_throughput(table: PriceTable, sku: str, parameters: int | None = None) -> Throughput | None:
    figures = table.throughput.get("azure", {})
    key = next((k for k in figures if k.lower() == sku.lower()), None)
    if key is None:
        return None
    rate, reference = float(figures[key]), table.throughput.get("reference_parameters")
    source = "planning figure per SKU (not measured here)"
    if parameters and reference:
        rate *= float(reference) / parameters
        made_for, size = count(float(reference)), count(parameters)
        source = (
            f"planning figure per SKU for a {size}-parameter model (not measured here)"
            if made_for == size
            else f"planning figure per SKU for {made_for} parameters, scaled to {size} (not measured here)"
        )
    return Throughput(rate, float(table.throughput.get("uncertainty", 0.5)), source)


def estimate_job(tokens: int, epochs: float, throughput: Throughput, price: Price | None, nodes: int = 1) -> JobEstimate:
    hours = tokens * epochs / (throughput.tokens_per_s * max(nodes, 1)) / 3600
    u = throughput.uncertainty + TOKEN_COUNT_UNCERTAINTY
    if price is None:
        return JobEstimate(tokens, epochs, throughput, hours, None, None, None, None, u)
    cost = hours * price.per_hour * max(nodes, 1)
    return JobEstimate(tokens, epochs, throughput, hours, price, cost, cost * max(1 - u, 0), cost * (1 + u), u)


@dataclass(frozen=True)
class JobCost:
    """A compute target's price and a job's estimated time and cost on it (or why there is no estimate)."""

    price: Price | None
    job_estimate: JobEstimate | None
    job_estimate_note: str | None


def job_cost(
    backend: Any,
    backend_name: str,
    table: PriceTable,
    target_name: str,
    train_file: str | None,
    epochs: float,
    train_what: str = "--train",
    parameters: int | None = None,
) -> JobCost:
    """What `compute check --train` and the launch form show: one definition for both.

    ``train_what`` names the training file where the user gave it, in an error about it;
    ``parameters`` is the size of the model to train (the memory estimate's), which scales the throughput.
    """
    target = next((t for t in backend.list_compute() if t.name == target_name), None)
    if target is None:
        return JobCost(None, None, f"no compute target named {target_name}")
    price = price_of(table, backend_name, target)
    if not train_file:
        return JobCost(price, None, "give --train FILE to estimate the job's time and cost")
    tokens = tokens_in_file(train_file, train_what)
    sku = sku_of(backend_name, target)
    throughput = (
        measured_throughput(backend, parameters) if backend_name == "local" else documented_throughput(table, sku, parameters)
    )
    if throughput is None:
        return JobCost(
            price,
            None,
            "no throughput measured here yet: run one job, then estimates use its tokens/s"
            if backend_name == "local"
            else f"no throughput figure for {sku}",
        )
    return JobCost(price, estimate_job(tokens, epochs, throughput, price), None)


def _hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def cost_lines(cost: JobCost) -> list[str]:
    """The price line, then the estimate (or why there is none), in the same words in the CLI and the app."""
    price = cost.price
    lines = [
        f"price: {price.per_hour:.3f} {price.currency}/h per node ({price.sku}; {price.source}, as of {price.as_of})"
        if price is not None
        else "price: unknown for this compute (`finetui prices`)"
    ]
    est = cost.job_estimate
    if est is None:
        return lines + ([f"estimate: {cost.job_estimate_note}"] if cost.job_estimate_note else [])
    tp = est.throughput
    line = (
        f"estimate: about {est.tokens:,} tokens x {est.epochs:g} epochs at {tp.tokens_per_s:,.0f} tokens/s "
        f"({tp.source}) = {_hours(est.hours)}"
    )
    if est.cost is not None and est.price is not None:  # a cost is only worked out from a price
        line += (
            f", {est.cost:.2f} {est.price.currency} (between {est.cost_low:.2f} and {est.cost_high:.2f}: +-{est.uncertainty:.0%})"
        )
    return lines + [line]
