"""``finetui job summary NAME``: what a job came to on one screen (also printed by ``job wait`` when it ends)."""

from __future__ import annotations

import time

import click

from .common import emit, name_and_json


@click.command("summary")
@name_and_json
def summary(ctx, name, as_json) -> None:
    """How long job NAME ran, its throughput, losses and best checkpoint, and the commands to run next."""
    from finetui.core.job_summary import summarize

    found = summarize(ctx.backend, name, time.time())
    emit(found, as_json, lambda s: click.echo("\n".join(s.lines())))
