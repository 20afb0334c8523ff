"""``finetui job resume NAME``: continue a Failed or Canceled job from its last complete checkpoint."""

from __future__ import annotations

import click


from .common import emit, name_and_json


@click.command("resume")
@name_and_json
def resume(ctx, name, as_json) -> None:
    """Continue job NAME (Failed or Canceled) from its last complete checkpoint, in the background."""
    job = ctx.backend.resume_job(name)
    emit(job, as_json, f"{job.name} {job.status.value}: resuming; `finetui job logs {job.name} --follow`")
