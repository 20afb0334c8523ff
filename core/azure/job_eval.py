"""What the pipeline's evaluation step measured, beside the job's training metrics.

Versions of ``chat_completion_pipeline`` that evaluate end with a step that
scores the fine-tuned model on the test file (``compute_metrics`` after
``model_prediction`` in the registry's spec; ``model_evaluation`` as the
compute input names it) and log its metrics on that step's own run, an MLflow
run on the workspace's tracking server. Both that run and the finetune step's
are read over the tracking server's REST API (metrics.py), the steps through
run history. Recent versions run no evaluation step at all: that is said, not
guessed around.
"""

from __future__ import annotations

from typing import Callable, Protocol

from ..errors import Conflict, FinetuiError, OperationFailed
from ..evaluate import DeployGate, JobEvaluation
from ..models import Job, JobStatus, MetricPoint, RegisteredModel

EVAL_STEP = "model_evaluation"
EVAL_STEPS = ("compute_metrics", EVAL_STEP)  # the step that logs the scores, by the names pipelines give it


def is_eval_step(display_name: str | None) -> bool:
    name = (display_name or "").lower()
    return any(name == s or name.endswith(f"_{s}") for s in EVAL_STEPS)


def last_values(points: list[MetricPoint]) -> tuple[dict[str, float], int | None]:
    """Each metric's value at the latest step it was logged, and the latest step of all."""
    latest: dict[str, MetricPoint] = {}
    for p in points:
        if p.name not in latest or p.step >= latest[p.name].step:
            latest[p.name] = p
    return {k: p.value for k, p in sorted(latest.items())}, max((p.step for p in points), default=None)


class _JobReader(Protocol):
    """What the evaluation reads of the jobs service."""

    def get(self, name: str) -> Job: ...
    def metrics(self, name: str) -> list[MetricPoint]: ...


class _RunMetrics(Protocol):
    """What it reads of the tracking server: one run's (the evaluation step's) metrics."""

    def for_run(self, run_id: str) -> list[MetricPoint]: ...


def read_evaluation(jobs: _JobReader, metrics: _RunMetrics, name: str) -> JobEvaluation:
    """The evaluation of job ``name``; Conflict while the step has not finished, OperationFailed when it cannot."""
    job = jobs.get(name)
    step = next((s for s in job.steps if is_eval_step(s.display_name)), None)
    if step is None:
        if not job.status.terminal:
            raise Conflict(
                f"job {name} is {job.status.value} and its {EVAL_STEP} step has not started yet",
                hint=f"`finetui job wait {name}`, then try again",
            )
        if job.status is JobStatus.COMPLETED:
            raise OperationFailed(
                f"job {name} Completed without an evaluation step (this chat_completion_pipeline "
                f"version runs none); its training metrics: `finetui job metrics {name}`"
            )
        why = f": {job.error.splitlines()[0]}" if job.error else ""
        raise OperationFailed(f"job {name} ended {job.status.value} before its {EVAL_STEP} step ran{why}")
    if step.status is JobStatus.FAILED:
        why = job.error.splitlines()[0] if job.error else f"step {step.display_name} failed"
        raise OperationFailed(f"job {name}: {why}")
    if step.status is not JobStatus.COMPLETED:
        raise Conflict(
            f"job {name}: its {step.display_name} step is {step.status.value}, no results yet",
            hint=f"`finetui job wait {name}`, then try again",
        )
    scores, _ = last_values(metrics.for_run(step.name))
    training, at = last_values(jobs.metrics(name))
    return JobEvaluation(
        job=name,
        model=job.model,
        status=job.status,
        step=step.name,
        step_status=step.status,
        metrics=scores,
        training=training,
        training_step=at,
    )


def job_gate(model: RegisteredModel, read: Callable[[str], JobEvaluation]) -> DeployGate | None:
    """What ``endpoint create`` says about a model registered from a job: that job's evaluation step.

    The step scores the fine-tuned model only, so nothing says it beat its
    base: like a local evaluation without a base, that is a warning.
    """
    if not model.job:
        return None  # not from a job: there is no evaluation of it to show
    try:
        found = read(model.job)
    except FinetuiError as exc:
        return DeployGate(model.ref, model.job, None, f"{model.ref} has no evaluation: {exc}", True)
    if not found.metrics:
        return DeployGate(
            model.ref, model.job, None, f"{model.ref}: the evaluation step of job {model.job} logged no metrics", True
        )
    scored = ", ".join(f"{k} {v:.4f}" for k, v in found.metrics.items())
    return DeployGate(
        model.ref,
        model.job,
        None,
        f"{model.ref}: job {model.job}'s evaluation step scored it {scored}; "
        "the pipeline does not score its base, so nothing says it beat it",
        True,
        metrics=found.metrics,
    )
