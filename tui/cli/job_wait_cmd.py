"""``finetui job wait NAME``: block until a job ends; exit 0 only when it Completed.

Exit status: 0 Completed; 1 Failed or Canceled, still running at ``--timeout``,
or an ``--on-done`` command that failed; 2 a name with no job (or bad usage).
``--on-done`` is split like a shell would (``shlex``) but run without one, with
FINETUI_JOB_NAME and FINETUI_JOB_STATUS in its environment.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
import time

import click

from finetui.core.errors import InvalidInput, NotFound, quote

from .common import emit, name_and_json

POLL_S = 1.0


def parse_on_done(command: str | None) -> list[str] | None:
    """The argv of ``--on-done``, checked before waiting so a typo is not found hours later."""
    if command is None:
        return None
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"--on-done {quote(command)}: {exc}") from None
    if not argv:
        raise InvalidInput("--on-done: the command is empty")
    if shutil.which(argv[0]) is None:
        raise InvalidInput(f"--on-done {quote(command)}: no program {quote(argv[0])} found")
    return argv


def _print_summary(backend, job) -> None:
    """The job's end on one screen; its first line alone if the rest cannot be read."""
    from finetui.core.errors import FinetuiError
    from finetui.core.job_summary import summarize

    try:
        click.echo("\n".join(summarize(backend, job.name, time.time()).lines()))
    except FinetuiError:
        click.echo(f"job {job.name} {job.status.value}" + (f": {job.error}" if job.error else ""))


@click.command("wait")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds (exit 1).")
@click.option(
    "--on-done",
    "on_done",
    metavar="COMMAND",
    help="Run COMMAND when the job ends, with FINETUI_JOB_NAME and FINETUI_JOB_STATUS set (no shell).",
)
@name_and_json
def wait(ctx, name, timeout, on_done, as_json) -> None:
    """Wait until job NAME ends; exit 0 only if it Completed."""
    if timeout is not None and math.isnan(timeout):
        raise InvalidInput("--timeout nan: give a number of seconds")
    argv = parse_on_done(on_done)
    backend = ctx.backend
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        job = backend.get_job(name)
        while not job.status.terminal:
            if deadline is not None and time.monotonic() >= deadline:
                click.echo(f"error: job {name} is still {job.status.value} after {timeout:g} s", err=True)
                sys.exit(1)
            time.sleep(POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic())))
            job = backend.get_job(name)
    except NotFound as exc:  # a name with no job is bad input, like `endpoint delete` of a missing name
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    emit(job, as_json, lambda ended: _print_summary(backend, ended))
    code = 0 if job.status.value == "Completed" else 1
    if argv is not None:
        env = dict(os.environ, FINETUI_JOB_NAME=job.name, FINETUI_JOB_STATUS=job.status.value)
        try:
            done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=False)
        except OSError as exc:
            click.echo(f"error: --on-done {quote(argv[0])} could not start: {exc.strerror or exc}", err=True)
            sys.exit(1)
        if done.returncode != 0:
            click.echo(f"error: --on-done command exited {done.returncode}", err=True)
            code = 1
    sys.exit(code)
