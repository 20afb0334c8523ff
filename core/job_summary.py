"""What a job came to, on one screen: how long it ran, how fast, its losses, its best checkpoint, what to run next.

``job wait`` prints it when the job ends, ``job summary`` at any time, and the
app shows it in the Jobs pane; all three build it here. It reads only what
the backend already keeps (the job, its metrics, its checkpoints): a backend
or a job that lacks one of them leaves that line out rather than failing.
The next commands are the ones that apply to the job's status on its
backend, with names that pass the name rules, so each one runs when pasted.
"""

from __future__ import annotations

import re
import shlex
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import FinetuiError
from .models import THROUGHPUT_METRIC, Checkpoint, Job, JobStatus, MetricPoint
from .names import endpoint_name_for
from .units import duration

if TYPE_CHECKING:
    from .backend import Backend


@dataclass(frozen=True)
class JobSummary:
    job: str
    status: str
    model: str
    backend: str
    duration_s: float | None
    steps: int | None  # the last step a metric was logged at
    tokens_per_s: float | None  # the median of the logged throughput
    final_loss: float | None
    best_eval_loss: float | None  # the lowest evaluation of the run
    best_eval_step: int | None  # where it was
    best_checkpoint: int | None  # the step of the saved checkpoint marked best (of those kept)
    best_checkpoint_eval_loss: float | None
    checkpoints: int
    error: str | None
    next: tuple[str, ...]

    def lines(self) -> list[str]:
        out = [f"job {self.job} {self.status}" + (f": {self.error}" if self.error else "")]
        out.append(f"  model      {self.model}")
        out.append(f"  ran        {duration(self.duration_s)}" + (f", {self.steps:,} steps" if self.steps else ""))
        if self.tokens_per_s is not None:
            out.append(f"  throughput {self.tokens_per_s:,.0f} tokens/s (median)")
        if self.final_loss is not None:
            out.append(f"  loss       {self.final_loss:.4f} at the end")
        if self.best_eval_loss is not None:
            where = f" (step {self.best_eval_step:,})" if self.best_eval_step is not None else ""
            out.append(f"  eval loss  {self.best_eval_loss:.4f} at best{where}")
        if self.checkpoints:
            best = ""
            if self.best_checkpoint is not None:
                loss = self.best_checkpoint_eval_loss
                best = f"; the best kept: step {self.best_checkpoint:,}" + (
                    f" (eval loss {loss:.4f})" if loss is not None else ""
                )
            out.append(f"  saved      {self.checkpoints} checkpoint{'s' if self.checkpoints != 1 else ''}{best}")
        if self.next:
            out.append("next:")
            out += [f"  {command}" for command in self.next]
        return out


def registered_name(job: Job, suffix: str = "-ft") -> str:
    """The name a job's model (or checkpoint) is offered to be registered under: its base model's, fine-tuned.

    An ``org/name`` Hugging Face model keeps its last part; whatever the registered-model rule
    (letters, digits, ``-``, ``_``, ``.``; at most 255) refuses becomes ``-``."""
    base = job.model.split(":")[0].rsplit("/", 1)[-1]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-._") or "model"
    return stem[: 255 - len(suffix)] + suffix


def next_commands(job: Job, checkpoints: list[Checkpoint]) -> tuple[str, ...]:
    cli = "finetui" if job.backend == "local" else f"finetui --backend {job.backend}"
    name = job.name
    if job.status == JobStatus.COMPLETED:
        model = registered_name(job)
        out = [f"{cli} model register --job {name} --name {model}"]
        if job.backend == "local":
            best = next((c for c in checkpoints if c.best), None)
            if best is not None and best.step != max(c.step for c in checkpoints):
                out.append(f"{cli} model register --job {name} --checkpoint best --name {registered_name(job, '-best')}")
            if job.test_file:
                out.append(f"{cli} eval {model} --test {shlex.quote(job.test_file)}")
            out.append(f"{cli} job extend {name} --epochs 1")
        else:
            out.append(f"{cli} eval show {name}")
        out.append(f"{cli} endpoint create {endpoint_name_for(model)} --model {model}")
        return tuple(out)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELED):
        out = [f"{cli} job logs {name}"]
        if job.backend == "local" and checkpoints:
            out.append(f"{cli} job resume {name}")
        return tuple(out)
    return (f"{cli} job wait {name}", f"{cli} job logs {name} --follow")


def _last(points: list[MetricPoint], metric: str) -> float | None:
    found = [p for p in points if p.name == metric]
    return max(found, key=lambda p: p.step).value if found else None


def summarize(backend: Backend, name: str, now: float) -> JobSummary:
    job = backend.get_job(name)
    try:
        points = backend.job_metrics(job.name)
    except FinetuiError:  # no metrics yet, or none this backend can read: the lines that need them are left out
        points = []
    try:
        checkpoints = backend.job_checkpoints(job.name)
    except FinetuiError:
        checkpoints = []
    throughput = [p.value for p in points if p.name == THROUGHPUT_METRIC and p.value > 0]
    evals = [p for p in points if p.name == "eval_loss"]
    lowest = min(evals, key=lambda p: p.value) if evals else None
    best = next((c for c in checkpoints if c.best), None)
    return JobSummary(
        job=job.name,
        status=job.status.value,
        model=job.model,
        backend=job.backend,
        duration_s=job.run_time_s(now),
        steps=max((p.step for p in points), default=None),
        tokens_per_s=statistics.median(throughput) if throughput else None,
        final_loss=_last(points, "loss"),
        best_eval_loss=lowest.value if lowest is not None else None,
        best_eval_step=lowest.step if lowest is not None else None,
        best_checkpoint=best.step if best is not None else None,
        best_checkpoint_eval_loss=best.eval_loss if best is not None else None,
        checkpoints=len(checkpoints),
        error=job.error,
        next=next_commands(job, checkpoints),
    )
