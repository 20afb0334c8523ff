"""``finetui job resume NAME``: continue a Failed or Canceled job from its last complete checkpoint."""

from __future__ import annotations

import click


from .common import emit, json_option, pass_ctx


@click.command("resume")
@click.argument("name")
@json_option
@pass_ctx
def resume(ctx, name, as_json) -> None:
    """Continue job NAME (Failed or Canceled) from its last complete checkpoint, in the background."""
    job = ctx.backend.resume_job(name)
    emit(job, as_json, f"{job.name} {job.status.value}: resuming; `finetui job logs {job.name} --follow`")
