"""``finetui demo``: build the offline demo (data and a tiny base model) in the local workspace."""

from __future__ import annotations

import dataclasses
import shlex

import click

from finetui.core.errors import InvalidInput

from .common import emit, json_option, pass_ctx, self_command


def _next_steps(result: dict) -> None:
    state = "built" if result["built"] else "already present"
    click.echo(f"Demo {state} in {result['workspace']}")
    click.echo(f"  model   {result['model']}:{result['model_version']}  ({result['model_path']})")
    click.echo(f"  train   {result['train_file']}")
    click.echo(f"  test    {result['test_file']}")
    click.echo(f"  heldout {result['heldout_file']}  (questions the base model cannot answer)")
    click.echo(f"  score   {result['sample_score_file']}")
    click.echo("")
    click.echo("Next steps (paste them into a shell, in order):")
    for step in next_steps(result):
        click.echo(f"  {step}")


def next_steps(result: dict) -> list[str]:
    """The tutorial's flow as shell lines that run as printed: this finetui, this workspace, no placeholders."""
    f = self_command(result["workspace"])
    q = shlex.quote
    model, train, test = q(result["model"]), q(result["train_file"]), q(result["test_file"])
    return [
        f"{f} data validate {train} --model {model}",
        f"JOB=$({f} job submit --model {model} --train {train} --test {test})",
        f'{f} job logs "$JOB" --follow',
        f'{f} model register --job "$JOB" --name demo-chat',
        f"{f} endpoint create demo-chat --model demo-chat",
        f"{f} endpoint invoke demo-chat --request-file {q(result['sample_score_file'])}",
        f"{f} chat demo-chat --message {q(_first_question(result['heldout_file']))}",
        f"{f} chat demo-chat",
        f"{f} endpoint delete demo-chat --yes",
    ]


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
def demo(ctx, force: bool, as_json: bool) -> None:
    """Build the offline demo: a tiny Phi-3 base model and synthetic chat data, no download."""
    if ctx.backend_name != "local":
        raise InvalidInput("the demo is built in a local workspace; run it with --backend local")
    backend = ctx.backend

    def progress(message: str, fraction: float | None) -> None:
        prefix = f"[{fraction * 100:3.0f}%] " if fraction is not None else ""
        click.echo(f"{prefix}{message}", err=True)

    result = backend.build_demo(None if as_json else progress, force=force)
    assert result is not None  # only only_if_empty skips
    fields = dataclasses.asdict(result)
    out = {"model": fields.pop("model_name"), **fields, "workspace": str(backend.state_folder())}
    emit(out, as_json, _next_steps)
