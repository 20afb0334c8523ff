"""``finetui job checkpoints NAME``: a job's saved checkpoints with their losses, the best marked."""

from __future__ import annotations

import click

from ..checkpoint_text import COLUMNS, cells, none_yet, register_command
from .common import emit, name_and_json, table


@click.command("checkpoints")
@name_and_json
def checkpoints(ctx, name, as_json) -> None:
    """Saved checkpoints of job NAME: step, epoch, train and eval loss; * marks the best."""
    items = ctx.backend.job_checkpoints(name)

    def human(items) -> None:
        if not items:
            click.echo(none_yet(name))
            return
        table([[*cells(c), c.path] for c in items], [*COLUMNS, "PATH"])
        click.echo(f"register one: {register_command(name)}")

    emit(items, as_json, human)
