"""``finetui model``: list, show, add, pull, register."""

from __future__ import annotations

import json

import click

from finetui.core import units
from finetui.core.models import CatalogModel

from .common import emit, json_option, pass_ctx, table


@click.group("model")
def model() -> None:
    """The model catalog and the registry of fine-tuned models."""


def _print_models(models: list[CatalogModel]) -> None:
    rows = [
        [m.name, m.version, m.source, units.count(m.parameter_count), str(m.context_length or "-"), units.size(m.size_bytes)]
        for m in models
    ]
    table(
        rows,
        ["NAME", "VERSION", "SOURCE", "PARAMS", "CONTEXT", "SIZE"],
        empty="no models yet: `finetui demo` builds one, `finetui model add PATH` adds a folder",
    )


def _print_model(m: CatalogModel) -> None:
    lines = [
        ("name", m.name),
        ("version", m.version),
        ("source", m.source),
        ("id", m.id),
        ("path", m.path or "-"),
        ("architecture", m.architecture or "-"),
        ("parameters", f"{units.count(m.parameter_count)}" + (f" ({m.parameter_count:,})" if m.parameter_count else "")),
        ("context length", str(m.context_length or "-")),
        ("size on disk", units.size(m.size_bytes)),
        ("dtype", m.dtype or "-"),
        ("description", m.description or "-"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key.ljust(width)}  {value}")
    for title, mapping in (("tags", m.tags), ("model defaults", m.model_specific_defaults), ("lineage", m.lineage)):
        if not mapping:
            continue
        click.echo(f"{title}:")
        for k, v in mapping.items():
            text = v if isinstance(v, str) else json.dumps(v, default=str)
            click.echo(f"  {k}: {text}")


@model.command("list")
@click.option("--filter", "query", help="Keep models whose name, architecture or tags contain this text.")
@json_option
@pass_ctx
def list_models(ctx, query, as_json) -> None:
    """Models this workspace can fine-tune or serve."""
    emit(ctx.backend.list_models(query), as_json, _print_models)


@model.command("show")
@click.argument("ref")
@json_option
@pass_ctx
def show(ctx, ref, as_json) -> None:
    """One model (NAME for the latest version, or NAME:VERSION): fields, tags, defaults, lineage."""
    emit(ctx.backend.get_model(ref), as_json, _print_model)


@model.command("add")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", help="Catalog name (default: the folder's name).")
@json_option
@pass_ctx
def add(ctx, path, name, as_json) -> None:
    """Add a local Hugging Face model folder (used in place, not copied). Prints NAME:VERSION."""
    added = ctx.backend.add_model(path, name=name)
    emit(added, as_json, added.ref)


@model.command("pull")
@click.argument("repo_id")
@json_option
@pass_ctx
def pull(ctx, repo_id, as_json) -> None:
    """Download a model from the Hugging Face Hub and add it. Prints NAME:VERSION."""

    last: dict[str, int] = {}

    def progress(message: str, fraction: float | None) -> None:
        tenth = -1 if fraction is None else int(fraction * 10)
        if last.get(message) != tenth:  # one line per message and tenth done, not per chunk
            last[message] = tenth
            click.echo(message if fraction is None else f"{message}: {tenth * 10}%", err=True)

    pulled = ctx.backend.pull_model(repo_id, progress=None if as_json else progress)
    emit(pulled, as_json, pulled.ref)


@model.command("register")
@click.option("--job", required=True, help="A Completed fine-tuning job.")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--version", help="Version (default: the next one).")
@click.option("--description", default="", help="Description stored with the model.")
@click.option("--checkpoint", help="A saved checkpoint instead of the final model: its STEP, or best.")
@json_option
@pass_ctx
def register(ctx, job, name, version, description, checkpoint, as_json) -> None:
    """Register a job's output model (or one of its checkpoints). Prints NAME:VERSION."""
    if checkpoint is not None:
        registered = ctx.backend.register_checkpoint(job, checkpoint, name, version, description)
        emit(registered, as_json, registered.ref)
        return
    registered = ctx.backend.register_model(job, name, version, description)
    emit(registered, as_json, registered.ref)
