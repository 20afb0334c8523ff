"""``finetui compute``: list targets, check whether a model and spec fit one."""

from __future__ import annotations

import sys

import click

from finetui.core import units
from finetui.core.compute_fit import gpu_line
from finetui.core.models import ComputeTarget, FitReport, Verdict, to_jsonable
from finetui.core.spec import parse_set_options, read_mapping

from .common import emit, json_option, pass_ctx, table

_WORDS = {Verdict.OK: "OK", Verdict.TIGHT: "TIGHT", Verdict.DOES_NOT_FIT: "DOES NOT FIT"}


@click.group("compute")
def compute() -> None:
    """Compute targets and the memory-fit check."""


def _gpus(t: ComputeTarget) -> str:
    if not t.gpus:
        return "-"
    names = sorted({g.name for g in t.gpus})
    return f"{len(t.gpus)} × {', '.join(names)} ({units.size(min(g.memory_bytes for g in t.gpus))})"


def _print_targets(targets: list[ComputeTarget]) -> None:
    rows = [[t.name, t.kind, str(t.cpu_cores or "-"), units.size(t.memory_bytes), _gpus(t), t.vm_size or "-"] for t in targets]
    table(rows, ["NAME", "KIND", "CORES", "MEMORY", "GPUS", "VM SIZE"])


@compute.command("list")
@json_option
@pass_ctx
def list_targets(ctx, as_json) -> None:
    """Where jobs can run: this machine's CPU and GPUs, or Azure ML clusters."""
    emit(ctx.backend.list_compute(), as_json, _print_targets)


@compute.command("check")
@click.argument("model")
@click.option("--spec", "spec_file", type=click.Path(), help="FineTuneSpec as YAML or JSON.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one spec key (repeatable).")
@click.option("--target", help="Compute target (default: the first GPU, else the CPU).")
@click.option("--train", "train_file", type=click.Path(), help="Training data: also estimate the job's time and cost.")
@json_option
@pass_ctx
def check(ctx, model, spec_file, sets, target, train_file, as_json) -> None:
    """Estimate the memory MODEL needs to fine-tune with a spec, and whether it fits.

    Exits 0 when it fits (OK or TIGHT), 1 when it does not.
    """
    user = read_mapping(spec_file) if spec_file else {}
    overrides = parse_set_options(sets)
    backend = ctx.backend
    if overrides:
        backend.resolve_spec(model, overrides, "--set")  # so a bad --set is named as such
    user.update(overrides)
    source = spec_file or ("--set" if sets else None)
    resolved = backend.resolve_spec(model, user, source)
    # On Azure, pipeline inputs outside FineTuneSpec (precision) change the estimate too.
    extra = {"component_inputs": dict(resolved.passthrough)} if ctx.backend_name == "azure" else {}
    report = backend.check_compute(model, resolved.spec, target, **extra)
    from .cost_view import cost_of_check, print_cost

    cost = cost_of_check(ctx, report, resolved.spec, train_file)
    if as_json:
        out = to_jsonable(report)
        out["spec"] = resolved.spec.to_dict()
        out["overrides"] = to_jsonable(list(resolved.overrides))
        out["warnings"] = list(resolved.warnings)
        out.update(to_jsonable(cost))
        emit(out, True)
    else:
        for w in resolved.warnings:
            click.echo(f"warning: {w}", err=True)
        for o in resolved.overrides:
            kept = "kept" if o.by == "model" else f"you set {o.final!r}"
            click.echo(f"model default: {o.key} {o.default!r} -> {o.model_value!r} ({kept})")
        _print_report(report)
        print_cost(cost)
    if not report.fits:
        sys.exit(1)


def _print_report(report: FitReport) -> None:
    need = units.size(report.estimate.total_bytes)
    click.echo(f"{_WORDS[report.verdict]}: {report.model} on {report.target} needs about {need}")
    gpus = gpu_line(report)
    if gpus:
        click.echo(f"  {gpus}")
    if report.decided_by:
        click.echo(f"  decided by: {report.decided_by}")
    for reason in report.reasons:
        click.echo(f"  - {reason}")
    if report.suggestion:
        click.echo(f"suggestion: {report.suggestion}")
