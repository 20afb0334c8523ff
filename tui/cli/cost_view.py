"""Money in the CLI: the price of a compute target and a job's estimated cost, for `compute check`."""

from __future__ import annotations

from typing import Any

import click


def cost_of_check(ctx: Any, report: Any, spec: Any, train_file: str | None) -> Any:
    """The JobCost (core/estimate.py) of a FitReport's target: its price, and the job's estimate with --train."""
    from finetui.core.estimate import job_cost
    from finetui.core.prices import load_prices

    return job_cost(
        ctx.backend,
        ctx.backend_name,
        load_prices(ctx.workspace_path),
        report.target,
        train_file,
        float(spec.num_train_epochs),
        parameters=report.estimate.parameters,
    )


def print_cost(cost: Any) -> None:
    from finetui.core.estimate import cost_lines

    for line in cost_lines(cost):
        click.echo(line)
