"""``finetui job``: submit, list, show, logs, metrics, cancel, wait."""

from __future__ import annotations

import sys
import time

import click

from finetui.core.backend import JobRequest
from finetui.core.log_reading import follow_log
from finetui.core.models import Job
from finetui.core.spec import parse_set_options, read_mapping
from finetui.core.units import duration

from .common import emit, json_option, log_options, name_and_json, pass_ctx, table, write_now


@click.group("job")
def job() -> None:
    """Fine-tuning jobs: submit, follow, wait for, cancel, resume or extend them; read their logs and metrics."""


@job.command("submit")
@click.option("--model", "model", required=True, help="Base model, NAME or NAME:VERSION.")
@click.option("--train", "train_file", required=True, help="Training data (JSONL, `messages` per row).")
@click.option("--test", "test_file", help="Evaluation data (JSONL).")
@click.option("--spec", "spec_file", type=click.Path(), help="FineTuneSpec as YAML or JSON.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one spec key (repeatable).")
@click.option("--compute", help="Compute target (see `finetui compute list`).")
@click.option("--experiment", help="Experiment name.")
@click.option("--display-name", help="Display name (default: the tutorial's naming rule).")
@click.option("--force", is_flag=True, help="Submit even if the compute check says it will not fit.")
@click.option("--dry-run", is_flag=True, help="Check everything and print the job that would be submitted (Azure).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "python"]),
    default="yaml",
    show_default=True,
    help="With --dry-run: the job as `az ml job create --file` YAML, or the tutorial's SDK code.",
)
@json_option
@pass_ctx
def submit(
    ctx, model, train_file, test_file, spec_file, sets, compute, experiment, display_name, force, dry_run, fmt, as_json
) -> None:
    """Validate spec, data and fit, then start a fine-tuning job. Prints the job's name."""
    user = read_mapping(spec_file) if spec_file else {}
    user.update(parse_set_options(sets))
    source = spec_file or ("--set" if sets else None)
    request = JobRequest(
        model=model,
        train_file=train_file,
        test_file=test_file,
        spec=user,
        spec_source=source,
        compute=compute,
        experiment=experiment,
        display_name=display_name,
        force=force,
    )
    if dry_run:  # the plan checks the spec as a submit would; a backend without plans refuses here
        plan = ctx.backend.plan_job(request)
        if as_json:
            emit(plan, True)
        else:
            click.echo(plan.yaml if fmt == "yaml" else plan.python, nl=False)
        return
    result = ctx.backend.submit_job(request)  # resolves the spec and checks the data, once
    if not as_json:
        # After the submit, so a refused job's error stays the one line on stderr.
        for note in result.notes:
            click.echo(note, err=True)
        if result.data_check:
            click.echo(f"data: {result.data_check}", err=True)
    emit(result, as_json, result.name)


def step_rows(steps) -> list[list[str]]:
    """A pipeline's steps by name, in pipeline order: status, duration, compute, run id."""
    return [[s.display_name or s.name, s.status.value, duration(s.duration_s), s.compute or "-", s.name] for s in steps]


@job.command("list")
@json_option
@pass_ctx
def list_jobs(ctx, as_json) -> None:
    """Jobs in the workspace, newest first."""
    jobs = ctx.backend.list_jobs()

    def human(items: list[Job]) -> None:
        table(
            [
                [
                    j.name,
                    j.status.value,
                    j.model,
                    duration(j.run_time_s(time.time())),
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created_at)),
                ]
                for j in items
            ],
            ["NAME", "STATUS", "MODEL", "DURATION", "CREATED"],
            empty="no jobs yet: `finetui job submit --help`",
        )

    emit(jobs, as_json, human)


@job.command("show")
@name_and_json
def show(ctx, name, as_json) -> None:
    """One job: status, spec, output, error."""
    j = ctx.backend.get_job(name)

    def human(j: Job) -> None:
        click.echo(f"name:          {j.name}")
        click.echo(f"display name:  {j.display_name}")
        click.echo(f"status:        {j.status.value}")
        click.echo(f"model:         {j.model}")
        click.echo(f"train / test:  {j.train_file} / {j.test_file or '-'}")
        click.echo(f"duration:      {duration(j.run_time_s(time.time()))}")
        if j.output_path:
            click.echo(f"output:        {j.output_path}")
        if j.error:
            click.echo(f"error:         {j.error}")
        if j.masking:
            reason = f" ({j.masking['reason']})" if j.masking.get("reason") else ""
            click.echo(f"loss mask:     {j.masking['method']}, {100 * j.masking['trained_share']:.0f}% of tokens trained{reason}")
        if j.steps:
            click.echo("steps:")
            rows = step_rows(j.steps)
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for row in rows:
                click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        click.echo("spec:")
        for k, v in j.spec.items():
            click.echo(f"  {k}: {v}")

    emit(j, as_json, human)


@job.command("logs")
@log_options("Keep printing until the job ends.")
def logs(ctx, name, follow, offset) -> None:
    """Print a job's log (from any offset; --follow to the end of the job)."""
    backend = ctx.backend
    for text in follow_log(backend, name, offset, keep_going=follow):
        write_now(text)
    if follow:
        job = backend.get_job(name)
        click.echo(f"job {name} {job.status.value}" + (f": {job.error}" if job.error else ""), err=True)
        if job.status.value != "Completed":
            sys.exit(1)


@job.command("metrics")
@click.option("--metric", "only", multiple=True, help="Only these metric names.")
@name_and_json
def metrics(ctx, name, only, as_json) -> None:
    """Training and evaluation metrics: one row per step, a column per metric (loss, eval_loss, learning_rate, tokens/s).

    --json prints the points as recorded: one object per metric and step.
    """
    points = [p for p in ctx.backend.job_metrics(name) if not only or p.name in only]

    def human(items) -> None:
        if not items:
            click.echo("no metrics yet")
            return
        headers, rows = per_step(items)
        table(rows, headers)

    emit(points, as_json, human)


def per_step(points) -> tuple[list[str], list[list[str]]]:
    """Points as a table: STEP, EPOCH, then each metric in the order it first appears; "-" where a step lacks one."""
    names = list(dict.fromkeys(p.name for p in points))
    steps: dict[int, dict] = {}
    for p in points:
        row = steps.setdefault(p.step, {})
        row[p.name] = p.value  # a metric logged twice at one step: the later value, as the log has it
        if p.epoch is not None:
            row.setdefault("", p.epoch)
    rows = [
        [str(step), f"{row['']:.2f}" if "" in row else "-", *(f"{row[n]:.6g}" if n in row else "-" for n in names)]
        for step, row in sorted(steps.items())
    ]
    return ["STEP", "EPOCH", *names], rows


@job.command("cancel")
@name_and_json
def cancel(ctx, name, as_json) -> None:
    """Cancel a running job (its checkpoints are kept)."""
    j = ctx.backend.cancel_job(name)
    emit(j, as_json, f"{j.name} {j.status.value}")


from .job_wait_cmd import wait  # noqa: E402  (its own module; registered on this group)

job.add_command(wait)

from .job_checkpoints_cmd import checkpoints  # noqa: E402

job.add_command(checkpoints)

from .job_summary_cmd import summary  # noqa: E402

job.add_command(summary)

from .job_resume_cmd import resume  # noqa: E402

job.add_command(resume)

from .job_extend_cmd import extend  # noqa: E402

job.add_command(extend)
