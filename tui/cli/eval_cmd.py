"""``finetui eval``: score a model against its base on held-out rows, as a detached job.

``finetui eval MODEL[:V] --test FILE`` starts one (``run`` is implied);
``eval list``, ``eval show NAME [--rows]`` and ``eval cancel NAME`` read and
stop them.
"""

from __future__ import annotations

import sys
import textwrap
import time

import click

from finetui.core.errors import FinetuiError, InvalidInput, Unsupported
from finetui.core.eval_judge import verdict_text
from finetui.core.evaluate import DeployGate, EvalRequest, EvalRun

from .common import emit, json_option, name_and_json, pass_ctx, table


class _DefaultRun(click.Group):
    """``finetui eval MODEL ...`` means ``finetui eval run MODEL ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def deploy_gate(ctx, model: str) -> DeployGate | None:
    """The model's latest evaluation for ``endpoint create``; None where the backend has none to say."""
    try:
        return ctx.backend.evaluation_gate(model)
    except FinetuiError:  # a model the catalog does not know: endpoint create reports that itself
        return None


@click.group("eval", cls=_DefaultRun)
def eval_group() -> None:
    """Evaluate a model and its base on a test file: assistant-token loss, exact match, ROUGE-L, chrF.

    
    finetui eval MODEL[:V] --test FILE [--base MODEL[:V]] [--max-rows N] [--wait]
    (the same as `finetui eval run ...`; see `finetui eval run --help`)
    """


def _progress(run: EvalRun) -> str:
    if run.status.terminal or not run.total:
        return run.status.value
    return f"{run.status.value} {100 * run.done // run.total}% ({run.phase})"


def _pct(n: int, rows: int) -> str:
    return f"{n}/{rows} ({100 * n / rows:.0f}%)" if rows else "-"


def print_scores(run: EvalRun) -> None:
    sides = [s for s in ("model", "base") if s in run.scores]
    if not sides:
        return
    scores = [run.scores[s] for s in sides]
    lines = [
        ("loss (assistant tokens)", [f"{s.loss:.4f}" if s.loss is not None else "-" for s in scores]),
        ("perplexity", [f"{s.perplexity:.2f}" if s.perplexity is not None else "-" for s in scores]),
        ("exact match", [_pct(s.exact_matches, s.rows) for s in scores]),
        ("contains reference", [_pct(s.contains_matches, s.rows) for s in scores]),
        ("ROUGE-L F1", [f"{s.rouge_l:.3f}" for s in scores]),
        ("chrF", [f"{s.chrf:.3f}" for s in scores]),
    ]
    table(
        [[name, *values] for name, values in lines], ["METRIC", *[f"{side.upper()} {s.model}" for side, s in zip(sides, scores)]]
    )


def run_json(run: EvalRun) -> dict:
    from finetui.core.models import to_jsonable

    return {**to_jsonable(run), "improved": run.improved}


def _show(run: EvalRun) -> None:
    click.echo(f"evaluation {run.name}: {_progress(run)}")
    click.echo(f"  model: {run.model}   base: {run.base or '-'}")
    click.echo(f"  test:  {run.test_file}" + (f" (first {run.max_rows} rows)" if run.max_rows else ""))
    if run.error:
        click.echo(f"  error: {run.error}")
    print_scores(run)
    if run.improved is not None:
        click.echo(
            "verdict: "
            + ("the model beat its base (lower assistant-token loss)" if run.improved else "the model did NOT beat its base")
        )
    if run.judge is not None:
        click.echo(run.judge.line)
    if run.rows_path:
        click.echo(f"per-row results: {run.rows_path} (`finetui eval show {run.name} --rows`)")
    if run.judge is not None:
        click.echo("judge prompt:")
        click.echo(textwrap.indent(run.judge.prompt, "  "))


def _show_job_evaluation(ev) -> None:
    click.echo(f"job {ev.job} ({ev.status.value}): step {ev.step} {ev.step_status.value}")
    click.echo(f"  model: {ev.model or '-'}")
    if ev.metrics:
        table([[k, f"{v:.4f}"] for k, v in ev.metrics.items()], ["EVALUATION METRIC", "VALUE"])
    else:
        click.echo("the evaluation step logged no metrics")
    if ev.training:
        click.echo(
            f"training, last values (step {ev.training_step}): " + ", ".join(f"{k} {v:.4g}" for k, v in ev.training.items())
        )


@eval_group.command("run")
@click.argument("model")
@click.option("--base", help="The model to compare with (default: the registered model's base).")
@click.option("--test", "test_file", required=True, help="Test rows (JSONL chat rows ending with the reference reply).")
@click.option("--max-rows", type=int, help="Only the first N rows.")
@click.option("--max-new-tokens", default=64, show_default=True, type=int, help="Longest generated reply.")
@click.option(
    "--judge",
    metavar="ENDPOINT",
    help="A ready local endpoint that says, row by row, which answer (model or base) is closer to the reference.",
)
@click.option("--wait", "wait", is_flag=True, help="Wait for the result (exit 1 unless it completes).")
@json_option
@pass_ctx
def run(ctx, model, base, test_file, max_rows, max_new_tokens, judge, wait, as_json) -> None:
    """Start an evaluation of MODEL[:V] (and its base) in the background. Prints its name."""
    backend = ctx.backend
    started = backend.submit_eval(
        EvalRequest(model=model, test_file=test_file, base=base, max_rows=max_rows, max_new_tokens=max_new_tokens, judge=judge)
    )
    if not wait:
        emit(run_json(started) if as_json else started, as_json, started.name)
        return
    if not as_json:
        click.echo(f"evaluation {started.name} started", err=True)
    shown = ""
    while True:
        current = backend.get_eval(started.name)
        line = _progress(current)
        if line != shown and not as_json:
            click.echo(line, err=True)
            shown = line
        if current.status.terminal:
            break
        time.sleep(0.5)
    emit(run_json(current) if as_json else current, as_json, _show)
    if current.status.value != "Completed":
        sys.exit(1)


@eval_group.command("list")
@json_option
@pass_ctx
def list_evals(ctx, as_json) -> None:
    """Evaluations in the workspace, newest first."""
    runs = ctx.backend.list_evals()

    def human(items: list[EvalRun]) -> None:
        table(
            [[r.name, _progress(r), r.model, r.base or "-", {True: "yes", False: "no", None: "-"}[r.improved]] for r in items],
            ["NAME", "STATUS", "MODEL", "BASE", "BEAT BASE"],
            empty="no evaluations yet: `finetui eval MODEL --test FILE`",
        )

    emit([run_json(r) for r in runs] if as_json else runs, as_json, human)


@eval_group.command("show")
@click.option("--rows", "with_rows", is_flag=True, help="Also print every row: prompt, reference and both replies.")
@name_and_json
def show(ctx, name, with_rows, as_json) -> None:
    """One evaluation: progress, the scores side by side, the verdict."""
    from finetui.core.printable import printable

    try:
        current = ctx.backend.get_eval(name)
    except Unsupported:  # a backend without runs of its own may still have a job's evaluation step (Azure)
        if with_rows:
            raise InvalidInput(f"--rows: the {ctx.backend_name} backend keeps no per-row results of a job's evaluation") from None
        found = ctx.backend.job_evaluation(name)  # on Azure NAME is a job: its model_evaluation step
        emit(found, as_json, _show_job_evaluation)
        return
    rows = ctx.backend.eval_rows(name) if with_rows else None
    if as_json:
        emit({**run_json(current), **({"rows": rows} if with_rows else {})}, True)
        return
    _show(current)
    for r in rows or []:
        click.echo(f"\n#{r['row']} {printable(r['prompt'][-1]['content'])}")
        click.echo(f"  reference: {printable(r['reference'])}")
        for side in ("model", "base"):
            if side in r:
                mark = "=" if r[side]["exact"] else "~" if r[side]["contains"] else "x"
                click.echo(f"  {side:9} {mark} {printable(r[side]['reply'])}")
        if "judge" in r:
            click.echo(f"  judge     {verdict_text(r['judge'])}")


@eval_group.command("cancel")
@name_and_json
def cancel(ctx, name, as_json) -> None:
    """Stop a running evaluation."""
    current = ctx.backend.cancel_eval(name)
    emit(current, as_json, f"{current.name} {current.status.value}")
