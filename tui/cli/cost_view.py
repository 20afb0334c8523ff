"""Money in the CLI: the price of a compute target and a job's estimated cost, for `compute check`."""

from __future__ import annotations

from typing import Any

import click


def cost_of_check(ctx: Any, report: Any, spec: Any, train_file: str | None) -> dict[str, Any]:
    """``{"price": Price|None, "job_estimate": JobEstimate|None, "job_estimate_note": str|None}`` for a FitReport."""
    from finetui.core.estimate import documented_throughput, estimate_job, measured_throughput, price_of, sku_of, tokens_in_file
    from finetui.core.prices import load_prices

    table = load_prices(ctx.workspace_path)
    backend = ctx.backend
    target = next((t for t in backend.list_compute() if t.name == report.target), None)
    if target is None:
        return {"price": None, "job_estimate": None, "job_estimate_note": f"no compute target named {report.target}"}
    price = price_of(table, ctx.backend_name, target)
    out: dict[str, Any] = {"price": price, "job_estimate": None, "job_estimate_note": None}
    if not train_file:
        out["job_estimate_note"] = "give --train FILE to estimate the job's time and cost"
        return out
    tokens = tokens_in_file(train_file)
    throughput = (measured_throughput(backend) if ctx.backend_name == "local"
                  else documented_throughput(table, sku_of(ctx.backend_name, target)))
    if throughput is None:
        out["job_estimate_note"] = ("no throughput measured here yet: run one job, then estimates use its tokens/s"
                                if ctx.backend_name == "local" else f"no throughput figure for {sku_of(ctx.backend_name, target)}")
        return out
    out["job_estimate"] = estimate_job(tokens, float(spec.num_train_epochs), throughput, price)
    return out


def _hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def print_cost(cost: dict[str, Any]) -> None:
    price = cost["price"]
    if price is not None:
        click.echo(f"price: {price.per_hour:.3f} {price.currency}/h per node ({price.sku}; {price.source}, as of {price.as_of})")
    else:
        click.echo("price: unknown for this compute (`finetui prices`)")
    est = cost["job_estimate"]
    if est is None:
        if cost.get("job_estimate_note"):
            click.echo(f"estimate: {cost['job_estimate_note']}")
        return
    tp = est.throughput
    line = (f"estimate: about {est.tokens:,} tokens x {est.epochs:g} epochs at {tp.tokens_per_s:,.0f} tokens/s "
            f"({tp.source}) = {_hours(est.hours)}")
    if est.cost is not None:
        line += (f", {est.cost:.2f} {est.price.currency} (between {est.cost_low:.2f} and {est.cost_high:.2f}: "
                 f"+-{est.uncertainty:.0%})")
    click.echo(line)
