"""``finetui job checkpoints NAME``: a job's saved checkpoints with their losses, the best marked."""

from __future__ import annotations

import click


from .common import emit, name_and_json, table


def _loss(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


@click.command("checkpoints")
@name_and_json
def checkpoints(ctx, name, as_json) -> None:
    """Saved checkpoints of job NAME: step, epoch, train and eval loss; * marks the best."""
    items = ctx.backend.job_checkpoints(name)

    def human(items) -> None:
        if not items:
            click.echo(f"job {name} has no complete checkpoints yet")
            return
        table(
            [
                [
                    ("* " if c.best else "  ") + str(c.step),
                    f"{c.epoch:.2f}" if c.epoch is not None else "-",
                    _loss(c.train_loss),
                    _loss(c.eval_loss),
                    c.path,
                ]
                for c in items
            ],
            ["  STEP", "EPOCH", "TRAIN LOSS", "EVAL LOSS", "PATH"],
        )
        click.echo(f"register one: finetui model register --job {name} --checkpoint STEP|best --name NAME")

    emit(items, as_json, human)
