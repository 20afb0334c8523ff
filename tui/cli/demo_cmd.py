"""``finetui demo``: build the offline demo (data and a tiny base model) in the local workspace."""

from __future__ import annotations

import dataclasses

import click

from finetui.core.errors import InvalidInput

from .common import emit, handle_errors, json_option, pass_ctx


def _next_steps(result: dict) -> None:
    state = "built" if result["built"] else "already present"
    click.echo(f"Demo {state} in {result['workspace']}")
    click.echo(f"  model   {result['model']}:{result['model_version']}  ({result['model_path']})")
    click.echo(f"  train   {result['train_file']}")
    click.echo(f"  test    {result['test_file']}")
    click.echo(f"  heldout {result['heldout_file']}  (questions the base model cannot answer)")
    click.echo(f"  score   {result['sample_score_file']}")
    click.echo("")
    click.echo("Next steps:")
    steps = [
        f"finetui data validate {result['train_file']} --model {result['model']}",
        f"finetui job submit --model {result['model']} --train {result['train_file']} --test {result['test_file']}",
        "finetui job logs JOB --follow",
        "finetui model register --job JOB --name demo-chat",
        "finetui endpoint create demo-chat --model demo-chat",
        f"finetui endpoint invoke demo-chat --request-file {result['sample_score_file']}",
        f"finetui chat demo-chat   (ask: {_first_question(result['heldout_file'])})",
    ]
    for step in steps:
        click.echo(f"  {step}")


def _first_question(path: str) -> str:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.readline())["messages"][0]["content"]
    except (OSError, ValueError, KeyError, IndexError):
        return "a held-out question"


@click.command("demo")
@click.option("--force", is_flag=True, help="Rebuild the data and the model even if they exist.")
@json_option
@pass_ctx
@handle_errors
def demo(ctx, force: bool, as_json: bool) -> None:
    """Build the offline demo: a tiny Phi-3 base model and synthetic chat data, no download."""
    if ctx.backend_name != "local":
        raise InvalidInput("the demo is built in a local workspace; run it with --backend local")
    from finetui.core.local.demo import build_demo

    backend = ctx.backend

    def progress(message: str, fraction: float | None) -> None:
        prefix = f"[{fraction * 100:3.0f}%] " if fraction is not None else ""
        click.echo(f"{prefix}{message}", err=True)

    result = build_demo(backend.paths, backend.store, progress=None if as_json else progress, force=force)
    fields = dataclasses.asdict(result)
    out = {"model": fields.pop("model_name"), **fields, "workspace": str(backend.paths.root)}
    emit(out, as_json, _next_steps)
