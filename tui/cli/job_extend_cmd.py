"""``finetui job extend NAME --epochs N``: train a Completed job N more epochs as a new job that continues it."""

from __future__ import annotations

import click

from finetui.core.models import to_jsonable

from .common import emit, name_and_json


@click.command("extend")
@click.option("--epochs", required=True, type=float, help="How many more epochs to train.")
@name_and_json
def extend(ctx, name, epochs, as_json) -> None:
    """Continue Completed job NAME for N more epochs from its last checkpoint, as a new job. Prints its name."""
    job, checkpoint = ctx.backend.extend_job(name, epochs)
    emit({**to_jsonable(job), "extends": name, "resume_from": checkpoint} if as_json else job, as_json, job.name)
